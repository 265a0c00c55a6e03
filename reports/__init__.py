"""Analyst and auditor outputs, rendering and reading only: the daily flag report, the review
queue and case files, what a takedown notice says and the notice exports, the audit report.

Imports `storage` only, and nothing that sends or writes a decision (that is
`precursor_watch.enforcement`; tests/test_layers.py checks it). Entry points the pipeline calls
(`pwatch/steps.py`): `reports.daily.write_daily_report(settings, day)`,
`reports.audit.write_audit_report(settings, date_from, date_to, out_dir=None)`. `settings` is any
object with the attributes of `ReportSettings` (pwatch's settings object has them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ReportSettings(Protocol):
    # Read-only properties: a frozen settings object satisfies them (plain annotations would ask
    # for settable attributes).
    @property
    def data_path(self) -> Path: ...  # reports/, audit/ and notices/ are written below it

    @property
    def db_url(self) -> str: ...  # the tracking database

    @property
    def notice_overdue_days(self) -> int: ...

    @property
    def notifier_name(self) -> str: ...  # optional on the object; defaults apply when missing

    @property
    def notifier_email(self) -> str: ...

    @property
    def console_url(self) -> str: ...  # optional: the review console's base URL; empty = no links
