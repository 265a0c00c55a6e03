"""`pwatch notices export|overdue` on notices sent to a loopback endpoint."""

import csv
import datetime as dt
import json

from precursor_watch.cli import main
from precursor_watch.reports.manifest import verify_manifest
from precursor_watch.reports.notice_docs import SOR_FIELDS
from tests.reports.test_audit import D, build


def test_export_lumen_json_and_sor_csv(world, endpoint, tmp_path, capsys):
    build(world, endpoint)
    out = tmp_path / "exp"
    assert main(["notices", "export", "--out", str(out), "--data-dir", str(world.settings.data_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"notices": 2, "listings": 4, "out": str(out)}
    notices = json.loads((out / "notices.json").read_text())["notices"]
    assert [n["ticket"] for n in notices] == ["T-0001", "T-0002"]
    urls = {w["infringing_urls_attributes"][0]["url"] for n in notices for w in n["works_attributes"]}
    assert urls == {f"{endpoint.origin}/product/{k}.html" for k in ("CD0", "CD1", "TH0", "TH1")}
    assert all(n["body"] == r["explanation"] for n, r in zip(notices, endpoint.received))  # what was actually sent
    assert all(n["jurisdiction_list"] == ["UN", "US"] for n in notices)
    rows = list(csv.DictReader((out / "statements_of_reasons.csv").open()))
    assert list(rows[0]) == SOR_FIELDS and len(rows) == 4
    removed = {r["platform_uid"]: (r["decision_visibility"], r["application_date"]) for r in rows}
    assert removed["CD0"] == ("DECISION_VISIBILITY_CONTENT_REMOVED", D[1].isoformat())
    assert removed["CD1"] == ("", "")
    assert verify_manifest(out) == []
    # as of D1 only CD0's removal is known
    assert main(["notices", "export", "--out", str(tmp_path / "d1"), "--date", D[1].isoformat(),
                 "--data-dir", str(world.settings.data_path)]) == 0
    rows = {r["platform_uid"]: r for r in csv.DictReader((tmp_path / "d1" / "statements_of_reasons.csv").open())}
    assert rows["TH0"]["decision_visibility"] == "" and rows["CD0"]["application_date"] == D[1].isoformat()


def test_overdue_listing(world, endpoint, capsys):
    build(world, endpoint)
    later = (D[0] + dt.timedelta(days=8)).isoformat()  # default notice_overdue_days = 7
    assert main(["notices", "overdue", "--date", later, "--format", "json", "--data-dir", str(world.settings.data_path)]) == 0
    overdue = json.loads(capsys.readouterr().out)
    assert [(n["platform"], n["open_urls"]) for n in overdue] == [("chemdir", [f"{endpoint.origin}/product/CD1.html"])]
    assert main(["notices", "overdue", "--date", later, "--data-dir", str(world.settings.data_path)]) == 0
    assert "1 overdue notice(s)" in capsys.readouterr().out
