"""What a correct tracker must record, computed from the fixture truth alone (no storage code).

`observe` walks the truth day by day with the observation rules the replay imposes (failed crawls
see nothing; gone pages are explicit except on the silent platform, where K healthy absences are
needed; the closed platform's closure is seen at once) and yields the events; `stats` applies the
written definitions of README "Tracking statistics" to those events.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from .replay import K, NOTICE_HOURS, PLATFORMS, SILENT, is_false_positive, is_noticed


@dataclass(frozen=True)
class Ev:
    kind: str
    day: dt.date
    url: str | None  # None for closures
    platform: str
    account: str | None
    store: str | None
    related: str | None = None  # relisted_as: the new listing


@dataclass
class Model:
    events: list[Ev] = field(default_factory=list)
    presence: dict[dt.date, dict[str, str]] = field(default_factory=dict)  # day -> url -> active/removed
    first_seen: dict[str, dt.date] = field(default_factory=dict)
    notice_items: list[tuple[dt.date, str]] = field(default_factory=list)


def observe(truth: dict[dt.date, dict[str, dict]], failures: set[tuple[str, dt.date]], notice_share: float,
            fp_share: float, relist_pairs: set[tuple[str, str]]) -> Model:
    m = Model()
    state: dict[str, str] = {}
    absent: dict[str, int] = defaultdict(int)
    review: dict[str, str] = {}
    closed_platforms: set[str] = set()
    closed_accounts: set[tuple[str, str]] = set()
    closed_stores: set[tuple[str, str]] = set()
    since: dict[str, dt.date] = {}  # a continuation must be first seen on or after this day
    last_live: dict[str, dt.date] = {}
    usable: dict[str, dt.date] = {}  # first reconcile that sees it as removed or reported
    linked: set[str] = set()
    info: dict[str, dict] = {}

    def ev(kind, day, r=None, *, platform=None, account=None, store=None, related=None):
        if r is not None:
            platform, account, store = r["platform"], r["account"], r["store"]
        m.events.append(Ev(kind, day, r["url"] if r else None, platform, account, store, related))

    def remove(r, day):
        state[r["url"]] = "removed"
        since[r["url"]] = min(since.get(r["url"], dt.date.max), last_live[r["url"]] + dt.timedelta(days=1)) \
            if r["url"] not in usable else since[r["url"]]
        usable.setdefault(r["url"], day)
        ev("removal_observed", day, r)

    for day in sorted(truth):
        records = truth[day]
        for r in records.values():
            info[r["url"]] = r
        for p in PLATFORMS:
            recs = [r for r in records.values() if r["platform"] == p]
            if any(r["removal_cause"] == "platform_closed" for r in recs):
                if p not in closed_platforms:
                    closed_platforms.add(p)
                    ev("platform_closed", day, platform=p)
                    for r in recs:
                        if state.get(r["url"]) == "active":
                            remove(r, day)
                continue
            if (p, day) in failures:
                continue
            for r in sorted(recs, key=lambda r: r["url"]):
                url = r["url"]
                if r["status"] == "live":
                    absent[url] = 0
                    last_live[url] = day
                    if url not in state:
                        state[url] = "active"
                        m.first_seen[url] = day
                        ev("first_seen", day, r)
                    elif state[url] == "removed":
                        state[url] = "active"
                        ev("reappeared", day, r)
                    if review.get(url) is None and (r["label"] or is_false_positive(p, r["listing_key"], fp_share)):
                        review[url] = "confirmed" if r["label"] else "dismissed"
                        ev("flagged", day, r)
                        ev(review[url], day, r)
                elif state.get(url) == "active":
                    if p in SILENT:
                        absent[url] += 1
                        if absent[url] >= K:
                            remove(r, day)
                        continue
                    cause = r["removal_cause"]
                    if cause == "account_closed" and (p, r["account"]) not in closed_accounts:
                        closed_accounts.add((p, r["account"]))
                        ev("account_closed", day, platform=p, account=r["account"])
                    if cause == "store_closed" and (p, r["store"]) not in closed_stores:
                        closed_stores.add((p, r["store"]))
                        ev("store_closed", day, platform=p, store=r["store"])
                    remove(r, day)
            # closure propagation: every active listing of a closed account / store goes with it
            for r in recs:
                if state.get(r["url"]) == "active" and (
                    (p, r["account"]) in closed_accounts or (p, r["store"]) in closed_stores
                ) and r["status"] != "live":
                    remove(r, day)
        # relistings known by the end of the day: child seen, original removed or reported
        # (notices are sent after reconcile, so a report counts from the next day on)
        for child, orig in sorted(relist_pairs):
            if child in linked or child not in m.first_seen or orig not in since:
                continue
            c0 = m.first_seen[child]
            if usable[orig] <= day and c0 >= since[orig] and day - c0 <= dt.timedelta(days=7):
                linked.add(child)
                ev("relisted_as", day, info[orig], related=child)
        # notices after reconcile: confirmed, live for us, chosen by the share
        for p in PLATFORMS:
            for url in sorted(u for u, r in info.items() if r["platform"] == p):
                r = info[url]
                if review.get(url) == "confirmed" and state.get(url) == "active" and is_noticed(p, r["listing_key"], notice_share):
                    review[url] = "reported"
                    since[url] = min(since.get(url, dt.date.max), day + dt.timedelta(days=1))
                    usable.setdefault(url, day + dt.timedelta(days=1))
                    ev("reported", day, r)
                    m.notice_items.append((day, url))
        m.presence[day] = dict(state)
    return m


def _hours(report: Ev, removal: Ev) -> float:
    return (removal.day - report.day).days * 24 - NOTICE_HOURS


def stats(model: Model, lo: dt.date, hi: dt.date, group_of=lambda e: "total") -> dict[str, dict]:
    """The README definitions, applied to the model's events, per group."""
    inside = lambda d: lo <= d <= hi  # noqa: E731
    per_url: dict[str, list[Ev]] = defaultdict(list)
    for e in model.events:
        if e.url is not None and e.day <= hi:
            per_url[e.url].append(e)
    groups: dict[str, dict] = defaultdict(lambda: defaultdict(set))
    hours: dict[str, list[float]] = defaultdict(list)
    cohort: dict[str, dict[str, float | None]] = defaultdict(dict)
    stay: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    removed_by_account: dict[tuple[str, tuple], set[str]] = defaultdict(set)
    for url, evs in per_url.items():
        for kind in ("flagged", "confirmed", "dismissed", "reappeared"):
            hits = [e for e in evs if e.kind == kind and inside(e.day)]
            if hits:
                groups[group_of(hits[0])][kind].add(url)
        removals = [e for e in evs if e.kind == "removal_observed" and inside(e.day)]
        if removals:
            groups[group_of(removals[0])]["removed"].add(url)
            for e in removals:
                if e.account is not None:
                    removed_by_account[(group_of(e), (e.platform, e.account))].add(url)
            first = removals[0]
            for n in (15, 30):
                end = first.day + dt.timedelta(days=n)
                if end <= hi:
                    back = [e for e in evs if e.kind in ("reappeared", "relisted_as") and first.day < e.day <= end]
                    stay[group_of(first)][n].append(not back)
        reports = [e for e in evs if e.kind == "reported"]
        if reports and inside(reports[0].day):
            rep = reports[0]
            g = group_of(rep)
            groups[g]["reported"].add(url)
            after = [e for e in evs if e.kind == "removal_observed" and (e.day > rep.day)]
            h = _hours(rep, after[0]) if after else None
            cohort[g][url] = h
            if h is not None:
                hours[g].append(h)
        for e in evs:
            if e.kind == "relisted_as" and inside(e.day):
                groups[group_of(e)]["relisted"].add(e.related)
    for (g, acct), urls in removed_by_account.items():
        if len(urls) >= 3:
            groups[g]["repeat_offenders"].add(acct)
    for e in model.events:
        if e.url is None and inside(e.day):
            g = group_of(e)
            subject = {"account_closed": e.account, "store_closed": e.store, "platform_closed": e.platform}[e.kind]
            groups[g][e.kind.replace("_closed", "s_closed")].add((e.platform, subject))
    items: dict[str, int] = defaultdict(int)
    for day, url in model.notice_items:
        if inside(day):
            items[group_of(per_url[url][0])] += 1
    out = {}
    for g in set(groups) | set(items):
        vals = {k: len(groups[g][k]) for k in ("flagged", "confirmed", "dismissed", "reported", "removed", "reappeared",
                                                 "relisted", "repeat_offenders", "accounts_closed", "stores_closed", "platforms_closed")}
        c = cohort[g]
        share = lambda pred: round(sum(1 for h in c.values() if pred(h)) / len(c), 6) if c else None  # noqa: E731
        vals["removal_rate"] = share(lambda h: h is not None)
        for d in (1, 7, 30):
            vals[f"removed_within_{d}d"] = share(lambda h, d=d: h is not None and h <= 24 * d)
        hs = sorted(hours[g])
        vals["median_hours_to_removal"] = round(statistics.median(hs), 3) if hs else None
        vals["p90_hours_to_removal"] = round(hs[math.ceil(0.9 * len(hs)) - 1], 3) if hs else None
        for n in (15, 30):
            flags = stay[g][n]
            vals[f"stay_down_rate_{n}d"] = round(sum(flags) / len(flags), 6) if flags else None
        vals["items_reported"] = items[g]
        out[g] = vals
    return out
