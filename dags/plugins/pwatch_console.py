"""Airflow plugin: a "Review console" entry in the Airflow UI's navigation, pointing at the
console URL of the `console_url` setting (PWATCH_CONSOLE_URL in Airflow's environment), so an
operator finds the console where they already are. No entry when the setting is empty.

Airflow 3 shows a plugin's `external_views` as links in its navigation (destination "nav");
`pwatch airflow` points AIRFLOW__CORE__PLUGINS_FOLDER at this folder.
"""

from __future__ import annotations

import logging

from airflow.plugins_manager import AirflowPlugin

from precursor_watch.errors import ConfigError
from precursor_watch.settings import load_settings

log = logging.getLogger(__name__)


def console_views() -> list[dict[str, str]]:
    """The navigation entry for the configured console, or none."""
    try:
        url = load_settings().console_url
    except ConfigError as exc:  # a bad setting must not stop Airflow: no link, and why
        log.warning("pwatch console link left out: %s", exc)
        return []
    if not url:
        return []
    return [{"name": "Review console", "href": f"{url}/queue", "destination": "nav", "category": "Precursor Watch"}]


class PwatchConsolePlugin(AirflowPlugin):
    name = "pwatch_console"
    external_views = console_views()
