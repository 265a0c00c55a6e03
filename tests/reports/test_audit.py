"""The audit report against numbers worked out by hand from the events this test writes."""

import csv
import datetime as dt
import json
import subprocess

from precursor_watch.cli import main
from precursor_watch.reports.audit import write_audit_report
from precursor_watch.reports.manifest import MANIFEST_NAME, verify_manifest
from precursor_watch.enforcement.notices import send_notices
from precursor_watch.reports.safe import FORMULA_PREFIXES
from tests.reports.conftest import D0, item

D = [D0 + dt.timedelta(days=i) for i in range(6)]


def build(world, endpoint):
    o = endpoint.origin
    cd = [item("chemdir", o, f"CD{i}", D[0], f"4-ANPP lot {i}") for i in range(4)]
    th = [item("tradehub", o, k, D[0], f"4-ANPP drum {k}") for k in ("TH0", "TH1", "=TH9")]
    world.crawl("chemdir", o, D[0], cd)
    world.crawl("tradehub", o, D[0], th)
    for key in ("CD0", "CD1", "TH0", "TH1"):
        world.review(key, "confirmed", D[0])
    world.review("CD2", "dismissed", D[0])
    send_notices(world.settings, D[0])
    world.event("removal_observed", "CD0", D[1], cause="not_found", evidence_sha256="1" * 64)
    world.event("removal_observed", "TH0", D[2], cause="gone", evidence_sha256="2" * 64)
    world.event("removal_observed", "TH1", D[3], cause="gone", evidence_sha256="3" * 64)
    world.event("reappeared", "TH0", D[4], evidence_sha256="4" * 64)


# Worked out by hand from build(): the expected value of every number for D0..D5.
EXPECTED = {
    "total": {"flagged": 7, "confirmed": 4, "dismissed": 1, "reported": 4, "removed": 3, "removal_rate": 0.75,
              "median_hours_to_removal": 48.0, "p90_hours_to_removal": 72.0, "removed_within_1d": 0.25,
              "removed_within_7d": 0.75, "reappeared": 1, "relisted": 0, "items_reported": 4},
    "chemdir": {"flagged": 4, "confirmed": 2, "dismissed": 1, "reported": 2, "removed": 1, "removal_rate": 0.5,
                "median_hours_to_removal": 24.0, "p90_hours_to_removal": 24.0, "reappeared": 0},
    "tradehub": {"flagged": 3, "confirmed": 2, "dismissed": 0, "reported": 2, "removed": 2, "removal_rate": 1.0,
                 "median_hours_to_removal": 60.0, "p90_hours_to_removal": 72.0, "reappeared": 1},
}
BEHIND = {  # metric -> listing keys behind it (total)
    "flagged": {"CD0", "CD1", "CD2", "CD3", "TH0", "TH1", "=TH9"},
    "reported": {"CD0", "CD1", "TH0", "TH1"},
    "removed": {"CD0", "TH0", "TH1"},
    "reappeared": {"TH0"},
    "median_hours_to_removal": {"CD0", "TH0", "TH1"},
}


def test_every_number_and_its_drilldown(world, endpoint):
    build(world, endpoint)
    path = write_audit_report(world.settings, D[0], D[5])
    folder = path.parent
    assert folder == world.settings.data_path / "audit" / f"{D[0]}_{D[5]}"
    stats = {(r["metric"], r["group"]): r for r in csv.DictReader((folder / "statistics.csv").open())}
    for group, expected in EXPECTED.items():
        for metric, value in expected.items():
            got = stats[(metric, group)]["value"]
            assert float(got) == value, (metric, group, got, value)
            assert stats[(metric, group)]["unit"] and stats[(metric, group)]["definition"]
    drill = list(csv.DictReader((folder / "drilldown.csv").open()))
    for metric, keys in BEHIND.items():
        rows = [r for r in drill if r["metric"] == metric and r["group"] == "total"]
        assert {r["listing_key"].lstrip("'") for r in rows} == keys, metric
    rate = [r for r in drill if r["metric"] == "removal_rate" and r["group"] == "tradehub"]
    assert {r["listing_key"]: r["counted"] for r in rate} == {"TH0": "yes", "TH1": "yes"}
    removed = {r["listing_key"]: r["evidence_sha256"] for r in drill if r["metric"] == "removed" and r["group"] == "total"}
    assert removed == {"CD0": "1" * 64, "TH0": "2" * 64, "TH1": "3" * 64}
    hours = {r["listing_key"]: float(r["value"]) for r in drill if r["metric"] == "median_hours_to_removal" and r["group"] == "total"}
    assert hours == {"CD0": 24.0, "TH0": 48.0, "TH1": 72.0}
    # every count equals its drill-down
    for (metric, group), row in stats.items():
        if stats[(metric, group)]["unit"] == "listings" and row["value"] != "":
            assert int(row["value"]) == int(row["drilldown_rows"]), (metric, group)
    # hostile listing key neutralised in CSV; manifest covers every file and verifies
    for row in drill:
        assert not any(v.startswith(FORMULA_PREFIXES) for v in row.values())
    listed = [line.split("  ", 1)[1] for line in (folder / MANIFEST_NAME).read_text().splitlines()]
    assert sorted(listed) == ["drilldown.csv", "evidence.csv", "heads.json", "index.html", "statistics.csv", "statistics.json"]
    assert (folder / (MANIFEST_NAME + ".sig")).is_file()
    assert subprocess.run(["sha256sum", "-c", MANIFEST_NAME], cwd=folder, capture_output=True).returncode == 0
    html = path.read_text()
    assert 'data-metric="removal_rate" data-group="tradehub" data-value="1.0"' in html
    assert "<script" not in html


def test_cli_with_out_dir_and_period_filter(world, endpoint, tmp_path, capsys):
    build(world, endpoint)
    out = tmp_path / "audit-out"
    code = main(["audit", "--from", D[2].isoformat(), "--to", D[3].isoformat(), "--out", str(out), "--data-dir", str(world.settings.data_path)])
    assert code == 0 and str(out / "index.html") in capsys.readouterr().out
    data = json.loads((out / "statistics.json").read_text())
    assert data["groups"]["total"]["removed"] == 2 and data["groups"]["total"]["flagged"] == 0  # TH0 on D2, TH1 on D3
    assert data["groups"]["total"]["reported"] == 0  # reported on D0, outside the period
    assert verify_manifest(out) == []
    code = main(["audit", "--from", D[3].isoformat(), "--to", D[2].isoformat(), "--data-dir", str(world.settings.data_path)])
    assert code != 0 and "before" in capsys.readouterr().err


def test_drilldown_equals_storage_explain_for_every_number(world, endpoint):
    """The one-pass drill-down is exactly what `storage.stats.explain` lists, number by number."""
    from sqlalchemy.orm import Session

    from precursor_watch.reports.audit import collect
    from precursor_watch.storage.stats import METRICS, explain

    build(world, endpoint)
    with Session(world.engine) as s:
        data = collect(s, D[0], D[5])
        for group in data["groups"]:
            by = None if group == "total" else "platform"
            for metric in METRICS:
                mine = [{k: v for k, v in d.items() if k not in ("metric", "group")} for d in data["drill"]
                        if d["metric"] == metric and d["group"] == group]
                assert mine == explain(s, metric, D[0], D[5], by=by, group=None if by is None else group), (metric, group)
