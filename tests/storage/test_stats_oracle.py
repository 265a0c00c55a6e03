"""Every statistic, every grouping and every drill-down member against an oracle, on generated logs.

The log is written through storage's own writers (ingest, `storage.events.append`, `record_notice`)
from a seeded random walk over legal transitions: flags, reviews, notices and follow-up notices,
removals at any hour, reappearances, relistings, account / store / platform closures, listings
without an account or store, and `changed` events (including a last day with nothing else, so an
open period's stay-down horizon comes from a kind no statistic counts). The oracle reads the raw
tables with plain SQL text (no models, no column types) and applies the written definitions
(storage/stats.py's docstring and README's statistics table) statistic by statistic; it shares no
code with `storage.stats`. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from collections import defaultdict

import pytest
from sqlalchemy import select, text

from precursor_watch.storage import events as ev
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.kinds import EventKind
from precursor_watch.storage.models import Listing, Platform
from precursor_watch.storage.notices import record_notice
from precursor_watch.storage.statistics import BY_NAME, METRICS
from precursor_watch.storage.stats import (
    compute_members,
    compute_stats,
    explain,
    explain_all,
    explain_groups,
    explain_number,
    load_event_log,
)
from precursor_watch.storage.types import logical_ts

from .helpers import listing

D0 = dt.date(2026, 11, 1)
DAYS = 45
PLATFORMS = ("chemdir", "tradehub", "boardlist")
BYS = (None, "platform", "account", "store")
UTC = dt.UTC


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


# ---------------------------------------------------------------- the generated log


class _Walk:
    """The generator's own record of each listing's state, so that every event it writes is legal."""

    def __init__(self, session, seed: int):
        self.s = session
        self.rng = random.Random(seed)
        self.presence: dict[int, str] = {}
        self.review: dict[int, str] = {}
        self.first: dict[int, int] = {}  # listing -> first day
        self.platform_of: dict[int, str] = {}
        self.linked: set[int] = set()  # children already linked as relistings
        self.count = 0

    def cite(self) -> dict:
        if self.rng.random() < 0.3:
            return {}
        self.count += 1
        n = self.count
        return ev.cited(f"{n % 7:064x}", "warc/gen.warc.gz", f"<urn:uuid:gen-{n}>", f"http://gen.test/{n}")

    def at(self, n: int) -> dt.datetime:
        return logical_ts(day(n)) + dt.timedelta(hours=self.rng.randrange(24), minutes=self.rng.randrange(60))

    def new_listings(self, n: int) -> None:
        for platform in PLATFORMS:
            items = []
            for _ in range(self.rng.randint(1, 4) if n < 25 else 0):
                key = f"{platform[:2].upper()}{len(self.first)}-{len(items)}"
                seller = self.rng.choice([None, "s1", "s2", "s3", "s4", "s5"])
                store = self.rng.choice([None, None, "st1", "st2"])
                items.append(listing(platform, key, day(n), seller=seller, store=store))
            run = open_crawl_run(self.s, platform, day(n))
            ingest_batch(self.s, run, items)
            close_crawl_run(self.s, run, {"pages": len(items) + 1, "errors": {}})
        for lid, pname in self.s.execute(select(Listing.id, Platform.name).join(Platform)):
            if lid not in self.first:
                self.first[lid], self.platform_of[lid] = n, pname
                self.presence[lid], self.review[lid] = "active", "none"

    def listing_events(self, n: int) -> list[ev.NewEvent]:
        out, rng = [], self.rng

        def add(kind, lid, **extra):
            out.append(ev.NewEvent(kind, lid, day(n), at=self.at(n), **self.cite(), **extra))

        for lid in sorted(self.first):
            if self.review[lid] == "none" and rng.random() < 0.3:
                add(EventKind.FLAGGED, lid)
                self.review[lid] = "flagged"
            elif self.review[lid] == "flagged" and rng.random() < 0.4:
                self.review[lid] = "confirmed" if rng.random() < 0.8 else "dismissed"
                add(EventKind(self.review[lid]), lid)
            if self.presence[lid] == "active" and rng.random() < 0.1:
                add(EventKind.REMOVAL_OBSERVED, lid)
                self.presence[lid] = "removed"
            elif self.presence[lid] == "removed" and rng.random() < 0.08:
                add(EventKind.REAPPEARED, lid)
                self.presence[lid] = "active"
            if self.presence[lid] == "removed" and rng.random() < 0.1:
                children = [c for c in self.first if self.first[c] >= self.first[lid] and c not in self.linked | {lid}]
                if children:
                    child = rng.choice(sorted(children))
                    self.linked.add(child)
                    add(EventKind.RELISTED_AS, lid, related_listing_id=child)
            if rng.random() < 0.2:
                add(EventKind.CHANGED, lid)
        return out

    def closures(self, n: int) -> list[ev.NewEvent]:
        rows = self.s.execute(select(Listing.platform_id, Listing.account_id, Listing.store_id)).all()
        out = []
        for kind, column in ((EventKind.ACCOUNT_CLOSED, 1), (EventKind.STORE_CLOSED, 2)):
            owners = sorted({(r[0], r[column]) for r in rows if r[column] is not None})
            if owners and self.rng.random() < 0.12:
                platform_id, ident = self.rng.choice(owners)
                entity = {"account_id": ident} if column == 1 else {"store_id": ident}
                out.append(ev.NewEvent(kind, None, day(n), platform_id=platform_id, **entity, **self.cite()))
        if n == 38:
            out.append(ev.NewEvent(EventKind.PLATFORM_CLOSED, None, day(n), platform_id=rows[0][0], **self.cite()))
        return out

    def notices(self, n: int) -> None:
        for platform in PLATFORMS:
            ready = [
                lid
                for lid in sorted(self.first)
                if self.platform_of[lid] == platform
                and self.presence[lid] == "active"
                and self.review[lid] in ("confirmed", "reported")
                and self.rng.random() < (0.4 if self.review[lid] == "confirmed" else 0.1)
            ]
            for start in range(0, len(ready), 2):
                ids = ready[start : start + 2]
                record_notice(self.s, platform=platform, listing_ids=ids, legal_basis="terms", channel="http",
                              idempotency_key=f"gen-{platform}-{n}-{start}", sent_at=self.at(n))
                for lid in ids:
                    self.review[lid] = "reported"


def generate(session, seed: int) -> None:
    walk = _Walk(session, seed)
    for n in range(DAYS):
        walk.new_listings(n)
        ev.append(session, walk.listing_events(n) + walk.closures(n))
        walk.notices(n)
    # a last day with only `changed`: the open-ended horizon is a day no statistic counts on
    ev.append(session, [ev.NewEvent(EventKind.CHANGED, lid, day(DAYS + 2)) for lid in sorted(walk.first)[:3]])
    session.flush()


# ---------------------------------------------------------------- the oracle


def _date(value) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _time(value) -> dt.datetime:
    value = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Oracle:
    """The raw tables, read once with plain SQL."""

    def __init__(self, session):
        q = lambda sql: session.execute(text(sql)).all()  # noqa: E731
        self.events = [
            dict(id=r[0], kind=r[1], on=_date(r[2]), at=_time(r[3]), platform=r[4], account=r[5], store=r[6],
                 listing=r[7], related=r[8], cite=(r[9], r[10], r[11], r[12]))
            for r in q("SELECT id, kind, occurred_on, occurred_at, platform_id, account_id, store_id, listing_id, "
                       "related_listing_id, evidence_sha256, evidence_file, evidence_record, evidence_uri FROM events")
        ]
        self.events.sort(key=lambda e: e["id"])
        self.platform = dict(q("SELECT id, name FROM platforms"))
        self.account = {i: f"{self.platform[p]}/{k}" for i, p, k in q("SELECT id, platform_id, account_key FROM accounts")}
        self.store = {i: f"{self.platform[p]}/{k}" for i, p, k in q("SELECT id, platform_id, store_key FROM stores")}
        self.items = q("SELECT nl.notice_id, nl.listing_id, n.sent_at, l.platform_id, l.account_id, l.store_id "
                       "FROM notice_listings nl JOIN notices n ON n.id = nl.notice_id JOIN listings l ON l.id = nl.listing_id")

    def group(self, by, e, entity=False):
        if by is None:
            return "total"
        if by == "platform":
            return self.platform[e["platform"]]
        ident = e[by]
        if ident is None:
            return None if entity else "(none)"
        return (self.account if by == "account" else self.store)[ident]

    def members(self, lo, hi, by) -> dict:
        """group -> member list -> sorted [(subject, id, counted, value, evidence)]"""
        inside = lambda d: (lo is None or d >= lo) and (hi is None or d <= hi)  # noqa: E731
        log = [e for e in self.events if hi is None or e["on"] <= hi]
        horizon = hi or max((e["on"] for e in log), default=None)
        out = defaultdict(lambda: defaultdict(list))

        def put(e, name, subject, ident, evidence, counted=True, value=None, entity=False):
            g = self.group(by, e, entity)
            if g is not None:
                out[g][name].append((subject, ident, counted, value, tuple(_cited(x) for x in evidence)))

        per_listing = defaultdict(list)
        for e in log:
            per_listing[e["listing"]].append(e)
        of = lambda lid, *kinds: [e for e in per_listing[lid] if e["kind"] in kinds]  # noqa: E731
        for lid in sorted(lid for lid in per_listing if lid is not None):
            for name, kind in (("flagged", "flagged"), ("confirmed", "confirmed"), ("dismissed", "dismissed"),
                               ("removed", "removal_observed"), ("reappeared", "reappeared")):
                hits = [e for e in of(lid, kind) if inside(e["on"])]
                if hits:
                    put(hits[0], name, "listing", lid, hits)
            self._cohort(lid, of(lid, "reported"), of(lid, "removal_observed"), inside, put)
            self._stay_down(lid, of(lid, "removal_observed"), of(lid, "reappeared", "relisted_as"), inside, horizon, put)
        for e in log:
            if e["kind"] == "relisted_as" and inside(e["on"]):
                put(e, "relisted", "listing", e["related"], [e])
            if e["kind"] in ("account_closed", "store_closed", "platform_closed") and inside(e["on"]):
                subject = e["kind"].split("_")[0]
                put(e, f"{subject}s_closed", subject, e[subject], [e], entity=True)
        self._repeat_offenders(log, inside, by, out)
        for notice_id, lid, sent_at, platform, account, store in self.items:
            on = _time(sent_at).date()
            if inside(on):
                g = self.group(by, {"platform": platform, "account": account, "store": store})
                out[g]["items_reported"].append(
                    ("listing", lid, True, None, ((("event", "notice"), ("notice_id", notice_id), ("on", on.isoformat())),))
                )
        return {g: {name: sorted(ms, key=_order) for name, ms in lists.items()} for g, lists in out.items()}

    @staticmethod
    def _cohort(lid, reports, removals, inside, put):
        if not reports or not inside(reports[0]["on"]):
            return
        first = reports[0]
        put(first, "reported", "listing", lid, [first])
        after = [e for e in removals if e["id"] > first["id"]]
        hours = (after[0]["at"] - first["at"]).total_seconds() / 3600 if after else None
        cited = [first, *after[:1]]
        put(first, "removal_rate", "listing", lid, cited, counted=bool(after), value=hours)
        if after:
            put(first, "hours_to_removal", "listing", lid, cited, value=hours)
        for days in (1, 7, 30):
            within = hours is not None and hours <= 24 * days
            put(first, f"removed_within_{days}d", "listing", lid, cited, counted=within, value=hours)

    @staticmethod
    def _stay_down(lid, removals, returns, inside, horizon, put):
        in_period = [e for e in removals if inside(e["on"])]
        if not in_period or horizon is None:
            return
        first = in_period[0]
        for days in (15, 30):
            end = first["on"] + dt.timedelta(days=days)
            if end <= horizon:
                back = [e for e in returns if first["on"] < e["on"] <= end]
                put(first, f"stay_down_rate_{days}d", "listing", lid, [first, *back], counted=not back)

    def _repeat_offenders(self, log, inside, by, out):
        removed = defaultdict(dict)  # (group, account) -> listing -> its first removal in the period
        for e in log:
            if e["kind"] == "removal_observed" and e["account"] is not None and inside(e["on"]):
                removed[(self.group(by, e), e["account"])].setdefault(e["listing"], e)
        for (g, account), firsts in removed.items():
            if len(firsts) >= 3:
                evidence = tuple(_cited(x) for x in sorted(firsts.values(), key=lambda x: x["id"]))
                out[g]["repeat_offenders"].append(("account", account, True, len(firsts), evidence))

    def numbers(self, lists: dict) -> dict:
        out = {}
        for name in METRICS:
            stat = BY_NAME[name]
            ms = lists.get(stat.members, [])
            values = sorted(m[3] for m in ms) if stat.aggregate in ("median", "p90") else []
            out[name] = {
                "distinct": lambda: len({m[1] for m in ms}),
                "pairs": lambda: len(ms),
                "share": lambda: round(sum(m[2] for m in ms) / len(ms), 6) if ms else None,
                "median": lambda: round(statistics.median(values), 3) if ms else None,
                "p90": lambda: round(values[math.ceil(0.9 * len(values)) - 1], 3) if ms else None,
            }[stat.aggregate]()
        return out


def _cited(e) -> tuple:
    sha, warc, record, uri = e["cite"]
    return tuple({"event": e["kind"], "on": e["on"].isoformat(), "evidence_sha256": sha, "warc_file": warc,
                  "warc_record_id": record, "target_uri": uri}.items())


def _order(member):
    return member[0], member[1], member[4]


# ---------------------------------------------------------------- what storage.stats says


def _as_tuples(members) -> list:
    return sorted(((m.subject, m.id, m.counted, m.value, tuple(tuple(x.items()) for x in m.evidence)) for m in members),
                  key=_order)


def _rows_as_tuples(rows) -> list:
    return [(r["subject"], r["id"], r["counted"], r["value"], tuple(tuple(x.items()) for x in r["evidence"]))
            for r in rows]


PERIODS = [
    (None, None),
    (day(0), day(DAYS - 1)),
    (day(5), day(20)),
    (day(10), None),
    (None, day(15)),
    (day(30), day(30)),
    (day(DAYS + 2), None),  # only `changed` events in it
]


def _coverage(oracle: Oracle) -> None:
    """The generated log gives every statistic members, shares both kinds of member, follow-ups."""
    members = oracle.members(None, None, None)["total"]
    for name in METRICS:
        assert members.get(BY_NAME[name].members), f"no member behind {name}"
    counted = {m[2] for name in ("removal_rate", "stay_down_rate_15d", "removed_within_1d") for m in members[name]}
    assert counted == {True, False}
    assert len({m[1] for m in members["items_reported"]}) < len(members["items_reported"])  # follow-up notices
    assert "(none)" in oracle.members(None, None, "store")


def _members_and_numbers(s, oracle: Oracle, lo, hi) -> None:
    got = compute_members(load_event_log(s, hi), lo, hi, BYS)
    total = oracle.numbers(oracle.members(lo, hi, None).get("total", {}))
    for by in BYS:
        want = oracle.members(lo, hi, by)
        mine = {g: {name: _as_tuples(ms) for name, ms in lists.items() if ms} for g, lists in got[by].items()}
        assert mine == want, by
        numbers = compute_stats(s, lo, hi, by=by)
        assert numbers["total"] == total
        if by is not None:
            assert list(numbers["groups"]) == sorted(want)
            assert numbers["groups"] == {g: oracle.numbers(want[g]) for g in want}, by


def _drilldowns(s, oracle: Oracle, lo, hi) -> None:
    names = dict(s.execute(text("SELECT l.id, p.name || ':' || l.listing_key FROM listings l "
                                "JOIN platforms p ON p.id = l.platform_id")).all())
    for by in BYS:
        want = oracle.members(lo, hi, by)
        drill = explain_all(s, lo, hi, by)
        assert set(drill) == set(want)
        for g, metrics in drill.items():
            for name, rows in metrics.items():
                assert _rows_as_tuples(rows) == want[g].get(BY_NAME[name].members, []), (by, g, name)
                assert all(f"{r['platform']}:{r['listing_key']}" == names[r["id"]] for r in rows if r["subject"] == "listing")
        if by is None:
            assert explain(s, "removal_rate", lo, hi) == drill["total"]["removal_rate"]
            continue
        for name in ("removal_rate", "repeat_offenders", "items_reported"):
            per_group = explain_groups(s, name, by, lo, hi)
            assert list(per_group) == sorted(want) and per_group == {g: drill[g][name] for g in want}
            g = sorted(want)[-1]
            value, rows = explain_number(s, name, lo, hi, by=by, group=g)
            assert rows == per_group[g] == explain(s, name, lo, hi, by=by, group=g)
            assert value == oracle.numbers(want[g])[name]


def test_every_number_and_drilldown_equals_the_oracle(any_session):
    generate(any_session, seed=18)
    oracle = Oracle(any_session)
    _coverage(oracle)
    for lo, hi in PERIODS:
        _members_and_numbers(any_session, oracle, lo, hi)
    for lo, hi in PERIODS[1:4]:
        _drilldowns(any_session, oracle, lo, hi)
