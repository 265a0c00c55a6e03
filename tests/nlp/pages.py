"""Helpers of the page-shape tests: judge one hand-written page, read its reasons."""

from __future__ import annotations

from precursor_watch.nlp.components import NOT_OFFERED_GATE
from precursor_watch.nlp.detection import DetectInput

# The gates of a page whose monitored names were recognised: open, or closed because every name
# is refused, in an aside or a prohibited list, or given as the relative of another.
NAMED_GATES = ("monitored substance", NOT_OFFERED_GATE)


def judge(detector, text: str, title: str | None = None, lang: str = "en"):
    [det] = detector.detect([DetectInput("t", text, title, lang)])
    return det


def messages(det) -> list[str]:
    return [r.message for r in det.reasons]


def assert_sells_nothing(detector, title: str | None, text: str, lang: str, reason: str) -> None:
    """The page names a monitored substance (recognised: the gate opens, or it is closed because
    every name is refused, in an aside or a relative) and is not flagged, for `reason`."""
    det = judge(detector, text, title, lang)
    assert not det.flagged and det.gate in NAMED_GATES, (det.score, messages(det))
    assert reason in messages(det), messages(det)
