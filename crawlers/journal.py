"""Resume journal: which pages of an interrupted crawl already reached every sink.

Lives in the crawl's job dir (`<data_dir>/jobs/<platform>/<date>/` by default). One line per
finished page key, appended with a single `os.write`, so a SIGKILL can tear at most the last line
(ignored on load). A crawl that ends normally writes `complete`; the next crawl with the same job
dir then starts afresh (re-running a date re-crawls it), while an interrupted one resumes: pages
whose items are already stored are not fetched again, everything else is.
"""

from __future__ import annotations

import os
from pathlib import Path


class Journal:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / "journal.keys"
        self.complete_marker = self.folder / "complete"
        self._done: set[str] = set()
        self._fd: int | None = None
        self.resumed = False

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.complete_marker.exists():
            # The last crawl with this job dir finished: this one is a fresh re-crawl.
            self.complete_marker.unlink()
            self.path.unlink(missing_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            keep = data[: data.rfind(b"\n") + 1]  # drop a torn last line
            if len(keep) != len(data):
                self.path.write_bytes(keep)
            self._done = {line for line in keep.decode("utf-8").split("\n") if line}
            self.resumed = True
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def is_done(self, key: str) -> bool:
        return key in self._done

    def __len__(self) -> int:
        return len(self._done)

    def mark(self, keys: list[str]) -> None:
        new = [k for k in keys if k not in self._done]
        if not new or self._fd is None:
            return
        os.write(self._fd, ("\n".join(new) + "\n").encode("utf-8"))
        self._done.update(new)

    def close(self, finished: bool) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if finished:
            self.complete_marker.write_text("finished\n", encoding="utf-8")
