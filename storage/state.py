"""The one tracking state machine.

A listing's state is a pair: presence (`active` / `removed`) and review (`none`, `flagged`,
`confirmed`, `dismissed`, `reported`). Events move it; `derive_state` replays a listing's events
and `next_state` is the single place that says which transitions are legal. The cached columns
`listings.presence` / `listings.review` are only ever written from `next_state`'s answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from precursor_watch.storage.errors import IllegalTransition

LISTING_EVENTS = (
    "first_seen",
    "changed",
    "flagged",
    "confirmed",
    "dismissed",
    "reported",
    "removal_observed",
    "reappeared",
    "relisted_as",
)
ENTITY_EVENTS = ("account_closed", "store_closed", "platform_closed")
EVENT_KINDS = LISTING_EVENTS + ENTITY_EVENTS

PRESENCES = ("active", "removed")
REVIEWS = ("none", "flagged", "confirmed", "dismissed", "reported")


@dataclass(frozen=True)
class State:
    presence: str | None  # None = never seen
    review: str | None


UNSEEN = State(None, None)

# kind -> (allowed presences, allowed reviews, new presence or None = keep, new review or None = keep)
_ANY_P = frozenset(PRESENCES)
_ANY_R = frozenset(REVIEWS)
_RULES: dict[str, tuple[frozenset, frozenset, str | None, str | None]] = {
    # content facts: legal whenever the listing exists
    "changed": (_ANY_P, _ANY_R, None, None),
    "relisted_as": (_ANY_P, _ANY_R, None, None),
    # detection and review
    "flagged": (_ANY_P, frozenset({"none"}), None, "flagged"),
    "confirmed": (_ANY_P, frozenset({"flagged"}), None, "confirmed"),
    "dismissed": (_ANY_P, frozenset({"flagged"}), None, "dismissed"),
    # a notice can only be sent for a confirmed (or already reported: follow-up) live listing
    "reported": (frozenset({"active"}), frozenset({"confirmed", "reported"}), None, "reported"),
    # presence
    "removal_observed": (frozenset({"active"}), _ANY_R, "removed", None),
    "reappeared": (frozenset({"removed"}), _ANY_R, "active", None),
}


def next_state(state: State, kind: str) -> State:
    """The state after `kind`, or IllegalTransition naming both."""
    if kind == "first_seen":
        if state.presence is not None:
            raise IllegalTransition(f"first_seen on a listing already seen ({state.presence}/{state.review})")
        return State("active", "none")
    if kind not in _RULES:
        raise IllegalTransition(f"unknown listing event kind {kind!r}")
    if state.presence is None:
        raise IllegalTransition(f"{kind} on a listing never seen")
    presences, reviews, new_p, new_r = _RULES[kind]
    if state.presence not in presences or state.review not in reviews:
        raise IllegalTransition(f"{kind} is illegal for a listing that is {state.presence}/{state.review}")
    return State(new_p or state.presence, new_r or state.review)


def derive_state(kinds: Iterable[str]) -> State:
    """Replay event kinds in order (the audit check that the cached state is what events imply)."""
    state = UNSEEN
    for kind in kinds:
        state = next_state(state, kind)
    return state
