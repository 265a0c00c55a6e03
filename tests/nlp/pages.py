"""Helpers of the page-shape tests: judge one hand-written page, read its reasons."""

from __future__ import annotations

from precursor_watch.nlp.detection import DetectInput


def judge(detector, text: str, title: str | None = None, lang: str = "en"):
    [det] = detector.detect([DetectInput("t", text, title, lang)])
    return det


def messages(det) -> list[str]:
    return [r.message for r in det.reasons]
