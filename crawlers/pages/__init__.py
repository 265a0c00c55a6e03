"""Page objects: everything the crawlers know about a platform's pages.

A platform is described by its platform file (`crawlers/platforms/NAME.toml`), read by the
file-driven page objects in `declared`; a file may name a Python module instead (`mercado`: a JSON
API behind HTML shells). `chemdir` is kept as the hand-written reference the crawler bench compares
the file-driven page objects with.
"""

from __future__ import annotations

from pathlib import Path

from precursor_watch.crawlers.pages.declared import Adapter, adapter_of
from precursor_watch.crawlers.platform_file import load_platform


def adapter_for(name: str, directory: Path | str | None = None) -> Adapter:
    """The page objects of platform `name`, from its file in `directory` (default: the packaged files)."""
    return adapter_of(load_platform(name, directory))


class _ByPlatform(dict):
    """{name: Adapter} of the packaged platform files, loaded on first use."""

    def __missing__(self, name: str) -> Adapter:
        self[name] = adapter = adapter_for(name)
        return adapter


BY_PLATFORM: dict[str, Adapter] = _ByPlatform()
