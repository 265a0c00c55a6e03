"""Benchmark: a 1,000,000-listing world with relevant_share 0.01, served, searched, revisited.

Run: .venv/bin/python -m bench.fixture_search [--scale 1000000] [--share 0.01] [--write]
Starts the real fixture server, then per platform runs lexicon queries (substance names in the
platform's languages and CAS RNs) through every result page over HTTP, timing the first query
(which builds the platform's list of relevant slots) apart from the rest; then times plain and
conditional (304) listing fetches. With --write, replaces the "Fixture server: site search"
section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from precursor_watch.fixtures import substances as S  # noqa: E402
from precursor_watch.fixtures.server import serve_in_background  # noqa: E402
from precursor_watch.fixtures.world import World, WorldConfig, listing_path  # noqa: E402

SECTION = "## Fixture server: site search on a sparse world"
DATE = dt.date(2026, 11, 20)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        m = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
        total += int(m.group(1)) if m else 0
    return total / 1024


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def queries(platform: str) -> list[str]:
    subs = S.MONITORED[:12]
    if platform == "huaxue":
        return [s.zh[0] for s in subs if s.zh]
    if platform == "mercado":
        return [s.es[0] for s in subs if s.es] + [s.id for s in subs[:4]]
    return [s.en for s in subs] + [s.id for s in subs[:4]]


def search_all(base: str, platform: str, query: str) -> tuple[int, int]:
    """(pages fetched, results) for one query, following every result page."""
    pages = results = 0
    if platform == "mercado":
        cursor: str | None = ""
        while cursor is not None:
            _s, _h, body = get(f"{base}/api/buscar?q={quote(query)}&cursor={cursor}")
            data = json.loads(body)
            pages, results, cursor = pages + 1, results + len(data["items"]), data["next_cursor"]
        return pages, results
    enc = "gb18030" if platform == "huaxue" else "utf-8"
    url: str | None = (
        f"{base}/search.html?kw={quote(query, encoding=enc)}&page=1"
        if platform == "huaxue"
        else f"{base}/search?q={quote(query)}&page=1"
    )
    while url:
        status, _h, body = get(url)
        assert status == 200, (url, status)
        text = body.decode(enc)
        pages += 1
        results += len(re.findall(r'<a class="(?:product|item|ad|goods)" href', text))
        m = re.search(r'<a rel="next" href="([^"]+)"', text)
        url = base + m.group(1).replace("&amp;", "&") if m else None
    return pages, results


def run_searches(handle) -> dict:
    out = {}
    for platform, base in handle.base_urls.items():
        qs = queries(platform)
        t0 = time.perf_counter()
        first = search_all(base, platform, qs[0])
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        pages = results = 0
        for q in qs[1:]:
            p, r = search_all(base, platform, q)
            pages, results = pages + p, results + r
        warm = time.perf_counter() - t0
        out[platform] = {
            "queries": len(qs),
            "cold_first_query_s": round(cold, 2),
            "first_query_results": first[1],
            "warm_pages": pages,
            "warm_results": results,
            "warm_ms_per_page": round(1000 * warm / max(pages, 1), 1),
        }
    return out


def conditional(handle, world: World, n: int = 300) -> dict:
    base = handle.base_urls["chemdir"]
    keys = [world.search_results("chemdir", q, world.day(DATE)) for q in queries("chemdir")]
    urls = [base + listing_path("chemdir", k) for ks in keys for k in ks][:n]
    etags = {}
    t0 = time.perf_counter()
    for u in urls:
        _s, h, _b = get(u)
        etags[u] = h.get("etag")
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    n304 = sum(get(u, {"If-None-Match": etags[u]})[0] == 304 for u in urls if etags[u])
    cond = time.perf_counter() - t0
    return {
        "n": len(urls),
        "ms_200": round(1000 * plain / len(urls), 2),
        "ms_304": round(1000 * cond / len(urls), 2),
        "n_304": n304,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pwatch-bench-search-"))
    config = WorldConfig(
        seed=7, start=dt.date(2026, 11, 1), days=30, scale=args.scale, port=0, state_dir=tmp, relevant_share=args.share
    )
    small = WorldConfig(seed=7, start=dt.date(2026, 11, 1), days=30, scale=1000, port=0, state_dir=tmp / "small")
    starts: dict[str, list[float]] = {"small": [], "big": []}
    for _round in range(2):  # alternate A/B: the machine is shared and noisy
        for name, cfg in (("small", small), ("big", config)):
            t0 = time.perf_counter()
            h = serve_in_background(cfg, DATE, workers=1, timeout=300)
            starts[name].append(round(time.perf_counter() - t0, 2))
            h.stop()
    t0 = time.perf_counter()
    handle = serve_in_background(config, DATE, workers=1, timeout=300)
    starts["big"].append(round(time.perf_counter() - t0, 2))
    results: dict = {"scale": args.scale, "share": args.share, "starts": starts}
    try:
        pids = [handle.pid, *handle.worker_pids]
        results["rss_start_mb"] = round(rss_mb(pids))
        world = World(handle.config)
        t0 = time.perf_counter()
        results["relevant_slots"] = sum(len(world.relevant_slots(p)) for p in world.platforms)
        results["relevant_slots_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        results["relevant_truth"] = sum(1 for _r in world.relevant_truth(DATE))
        results["relevant_truth_s"] = round(time.perf_counter() - t0, 2)
        results["search"] = run_searches(handle)
        results["rss_after_search_mb"] = round(rss_mb(pids))
        results["conditional"] = conditional(handle, world)
        results["load_avg"] = round(os.getloadavg()[0], 1)
    finally:
        handle.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.write:
        write_section(results, args)
    return 0


def write_section(r: dict, args) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python -m bench.fixture_search --scale {args.scale} --share {args.share} --write` "
        f"({cpu} cores shared with other work, load average {r['load_avg']} at the end of the run; one worker "
        f"process; measured {dt.date.today().isoformat()}).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| listings in the world / relevant_share | {args.scale:,} / {args.share} |",
        f"| start time (spawn → every host answers), alternating: 1,000-listing world / this world | "
        f"{', '.join(map(str, r['starts']['small']))} s / {', '.join(map(str, r['starts']['big']))} s |",
        f"| RSS after start / after all searches (control + worker) | {r['rss_start_mb']} MB / "
        f"{r['rss_after_search_mb']} MB |",
        f"| relevant slots, all platforms (in-process, hashes only) | {r['relevant_slots']:,} in "
        f"{r['relevant_slots_s']} s |",
        f"| `World.relevant_truth(date)`: truth records of the relevant listings (in-process, after the line "
        f"above) | {r['relevant_truth']:,} in {r['relevant_truth_s']} s |",
    ]
    for platform, s in r["search"].items():
        lines.append(
            f"| {platform}: first query (cold: relevant slots + texts) | {s['cold_first_query_s']} s "
            f"({s['first_query_results']} results) |"
        )
        lines.append(
            f"| {platform}: {s['queries'] - 1} more lexicon queries, every page | {s['warm_pages']} pages, "
            f"{s['warm_results']} results, **{s['warm_ms_per_page']} ms/page** |"
        )
    c = r["conditional"]
    lines += [
        f"| chemdir listing page, plain GET / conditional GET answered 304 ({c['n']} found by search) | "
        f"{c['ms_200']} ms / {c['ms_304']} ms ({c['n_304']} × 304) |",
        "",
        "Sequential requests from one client (http.client), so ms/page is latency, not capacity. The first "
        "query of a platform enumerates its relevant slots (one hash per account and per slot of a relevant "
        "seller) and composes the texts it meets; later queries reuse both (bounded caches). Nothing is "
        "built at start-up, so the big world starts as fast as the small one (same run, alternating).",
        "",
    ]
    block = "\n".join(lines)
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        tail = rest.split("\n## ", 1)
        text = head + block + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.replace("\n## Detector", "\n" + block + "\n## Detector", 1)
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
