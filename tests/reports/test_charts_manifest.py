import subprocess
import xml.etree.ElementTree as ET

from precursor_watch.reports.charts import Bar, bar_chart, column_chart
from precursor_watch.reports.manifest import MANIFEST_NAME, verify_manifest, write_manifest

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg):
    root = ET.fromstring(str(svg))
    return [(r.get("data-label"), r.get("data-value")) for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_column_chart_is_well_formed_and_carries_values():
    svg = column_chart("flags per day", [Bar("2026-11-01", 3), Bar("2026-11-02", 0), Bar("<b>", 7)])
    assert _bars(svg) == [("2026-11-01", "3"), ("2026-11-02", "0"), ("<b>", "7")]
    heights = [float(r.get("height")) for r in ET.fromstring(str(svg)).iter(f"{SVG}rect")]
    assert heights[2] > heights[0] > heights[1] == 0


def test_bar_chart_whiskers_and_missing_values():
    svg = bar_chart("hours", [Bar("chemdir", 24, 48), Bar("huaxue", None)], unit="h")
    root = ET.fromstring(str(svg))
    assert _bars(svg) == [("chemdir", "24"), ("huaxue", "n/a")]
    assert [w.get("data-value") for w in root.iter(f"{SVG}line") if w.get("class") == "whisker"] == ["48"]
    assert "p90 48" in str(svg)


def test_manifest_matches_sha256sum_and_detects_tampering(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text("{}")
    write_manifest(tmp_path)
    check = subprocess.run(["sha256sum", "-c", MANIFEST_NAME], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert verify_manifest(tmp_path) == []
    (tmp_path / "a.csv").write_text("y\n")
    assert verify_manifest(tmp_path) == ["a.csv"]
