"""The monitored platforms and where each one's base URL comes from, declared once.

A leaf module (imports nothing of this project): the settings default, the crawler's argument
check, `pwatch crawl`, the daily run and the fixture world all read the list and the address rule
here. The order is part of the fixture contract: platform i (0-based) of `FIXTURE_PLATFORMS` listens
on `<fixture_host_prefix>.<11+i>:<fixture_port>`, its control site on `<prefix>.10`, the trap host
(off-site redirect target) on `<prefix>.99`.
"""

from __future__ import annotations

PLATFORMS: tuple[str, ...] = ("chemdir", "tradehub", "boardlist", "huaxue", "mercado")
# Fixture platforms onboarded by platform files alone (crawlers/platforms/) but not crawled by
# default (pass `--site` or the `platforms` setting). The fixture world serves them after the five
# above, on the next host octets; one that joins PLATFORMS leaves this tuple, so FIXTURE_PLATFORMS keeps its order.
EXTRA_FIXTURE_PLATFORMS: tuple[str, ...] = ("sourcing", "shopfront")
FIXTURE_PLATFORMS: tuple[str, ...] = PLATFORMS + EXTRA_FIXTURE_PLATFORMS

FIRST_PLATFORM_OCTET = 11
CONTROL_OCTET = 10
TRAP_OCTET = 99


def host_octet(platform: str) -> int:
    return FIRST_PLATFORM_OCTET + FIXTURE_PLATFORMS.index(platform)


def origin(host_prefix: str, octet: int, port: int) -> str:
    return f"http://{host_prefix}.{octet}:{port}"


def platform_base_url(platform: str, host_prefix: str, port: int) -> str:
    """Base URL of a fixture platform (a crawl of a real marketplace passes its own `--base-url`)."""
    return origin(host_prefix, host_octet(platform), port)


def control_base_url(host_prefix: str, port: int) -> str:
    """Base URL of the fixture world's control site (moves the world's date)."""
    return origin(host_prefix, CONTROL_OCTET, port)
