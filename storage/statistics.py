"""The registry of audit statistics: each one's name, unit, definition and how it is computed,
declared once. `storage.stats` computes from it, the audit export and `pwatch stats` print its
units and definitions, and tests/test_docs.py checks README.md's statistics table against it (a
statistic without README text fails).

`members` names the member list a statistic is aggregated from (`storage.stats` builds each list
in one named step); `events` are the event kinds those members come from (and the only kinds
`storage.stats` reads from the log: a kind missing here is a kind no statistic sees); `aggregate` says how the
list becomes the number: `distinct` = number of distinct subjects, `pairs` = number of members,
`share` = counted members / members, `median` / `p90` = of the members' values (p90 by nearest
rank). Cohort R = listings whose first `reported` event lies in the period.

    python -m precursor_watch.storage.statistics   # prints README.md's statistics table
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Aggregate = Literal["distinct", "pairs", "share", "median", "p90"]


@dataclass(frozen=True)
class Statistic:
    name: str
    unit: str
    definition: str
    members: str
    events: tuple[str, ...]
    aggregate: Aggregate


LISTINGS = "listings"
SHARE = "share of listings (0-1)"
REPEAT_OFFENDER_REMOVALS = 3

STATISTICS: tuple[Statistic, ...] = (
    Statistic(
        "flagged",
        LISTINGS,
        "Distinct listings with a `flagged` event (detector flagged an offer) in the period.",
        "flagged",
        ("flagged",),
        "distinct",
    ),
    Statistic(
        "confirmed",
        LISTINGS,
        "Distinct listings confirmed (a `confirmed` event: by an analyst, or automatically "
        "under the demo auto-confirm policy) in the period.",
        "confirmed",
        ("confirmed",),
        "distinct",
    ),
    Statistic(
        "dismissed",
        LISTINGS,
        "Distinct listings an analyst dismissed (a `dismissed` event) in the period.",
        "dismissed",
        ("dismissed",),
        "distinct",
    ),
    Statistic(
        "reported",
        LISTINGS,
        "Distinct listings whose first `reported` event (sent in a notice) lies in the period: cohort R.",
        "reported",
        ("reported",),
        "distinct",
    ),
    Statistic(
        "removed",
        LISTINGS,
        "Distinct listings with a `removal_observed` event in the period, whatever the cause "
        "(an explicit gone page in a healthy crawl, a closure, or K consecutive healthy crawls without the "
        "listing).",
        "removed",
        ("removal_observed",),
        "distinct",
    ),
    Statistic(
        "removal_rate",
        SHARE,
        "Share of cohort R with a `removal_observed` event after the first report, up to the end of the period.",
        "removal_rate",
        ("reported", "removal_observed"),
        "share",
    ),
    Statistic(
        "median_hours_to_removal",
        "hours",
        "Median, over the removed listings of cohort R, of the hours from "
        "the first report to the first observed removal after it.",
        "hours_to_removal",
        ("reported", "removal_observed"),
        "median",
    ),
    Statistic(
        "p90_hours_to_removal",
        "hours",
        "90th percentile (nearest rank) of the same hours from report to observed removal.",
        "hours_to_removal",
        ("reported", "removal_observed"),
        "p90",
    ),
    Statistic(
        "removed_within_1d",
        SHARE,
        "Share of cohort R removed within 24 hours of the report.",
        "removed_within_1d",
        ("reported", "removal_observed"),
        "share",
    ),
    Statistic(
        "removed_within_7d",
        SHARE,
        "Share of cohort R removed within 168 hours (7 days) of the report.",
        "removed_within_7d",
        ("reported", "removal_observed"),
        "share",
    ),
    Statistic(
        "removed_within_30d",
        SHARE,
        "Share of cohort R removed within 720 hours (30 days) of the report.",
        "removed_within_30d",
        ("reported", "removal_observed"),
        "share",
    ),
    Statistic(
        "stay_down_rate_15d",
        SHARE,
        "Of listings first removed in the period at least 15 days before its end, "
        "the share with no `reappeared` or `relisted_as` event in the 15 days after removal.",
        "stay_down_rate_15d",
        ("removal_observed", "reappeared", "relisted_as"),
        "share",
    ),
    Statistic(
        "stay_down_rate_30d",
        SHARE,
        "As stay_down_rate_15d with a 30-day window.",
        "stay_down_rate_30d",
        ("removal_observed", "reappeared", "relisted_as"),
        "share",
    ),
    Statistic(
        "reappeared",
        LISTINGS,
        "Distinct listings seen live again at the same URL after an observed removal "
        "(`reappeared` event) in the period.",
        "reappeared",
        ("reappeared",),
        "distinct",
    ),
    Statistic(
        "relisted",
        LISTINGS,
        "Distinct new listings linked as relistings of an earlier listing (`relisted_as` "
        "event) in the period; grouped by the original's platform, account and store.",
        "relisted",
        ("relisted_as",),
        "distinct",
    ),
    Statistic(
        "repeat_offenders",
        "accounts",
        f"Accounts with at least {REPEAT_OFFENDER_REMOVALS} distinct listings removed in the period.",
        "repeat_offenders",
        ("removal_observed",),
        "distinct",
    ),
    Statistic(
        "accounts_closed",
        "accounts",
        "Seller accounts whose closure was observed (`account_closed` event) in the period.",
        "accounts_closed",
        ("account_closed",),
        "distinct",
    ),
    Statistic(
        "stores_closed",
        "stores",
        "Stores whose closure was observed (`store_closed` event) in the period.",
        "stores_closed",
        ("store_closed",),
        "distinct",
    ),
    Statistic(
        "platforms_closed",
        "platforms",
        "Platforms whose closure was observed (`platform_closed` event) in the period.",
        "platforms_closed",
        ("platform_closed",),
        "distinct",
    ),
    Statistic(
        "items_reported",
        "notice items",
        "(notice, listing) pairs of the notices sent in the period.",
        "items_reported",
        (),
        "pairs",
    ),
)

BY_NAME = {s.name: s for s in STATISTICS}
METRICS = tuple(s.name for s in STATISTICS)
UNITS = {s.name: s.unit for s in STATISTICS}
DEFINITIONS = {s.name: s.definition for s in STATISTICS}


@dataclass(frozen=True)
class StatementTerm:
    """A term of a public takedown statement ("14 platforms closed, ...") and the one statistic
    that gives its number: the statement's definition of the term is that statistic's."""

    term: str
    statistic: str


# In the order published takedown claims read; `pwatch audit --statement` renders them.
STATEMENT_TERMS: tuple[StatementTerm, ...] = (
    StatementTerm("platforms closed", "platforms_closed"),
    StatementTerm("corporate accounts cancelled", "accounts_closed"),
    StatementTerm("online stores removed", "stores_closed"),
    StatementTerm("pieces of information cleaned", "removed"),
    StatementTerm("items reported", "items_reported"),
)


README_HEADER = "| statistic | unit | definition | computed as |\n|---|---|---|---|"


def readme_row(stat: Statistic) -> str:
    """The statistic's row in README.md's statistics table."""
    events = ", ".join(f"`{kind}`" for kind in stat.events) or "notice items"
    return (
        f"| `{stat.name}` | {stat.unit} | {stat.definition} "
        f"| {stat.aggregate} of members `{stat.members}` from {events} |"
    )


if __name__ == "__main__":
    print(README_HEADER)
    for stat in STATISTICS:
        print(readme_row(stat))
