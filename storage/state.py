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
from precursor_watch.storage.kinds import EventKind, Presence, ReviewState

ENTITY_EVENTS = (EventKind.ACCOUNT_CLOSED, EventKind.STORE_CLOSED, EventKind.PLATFORM_CLOSED)
LISTING_EVENTS = tuple(kind for kind in EventKind if kind not in ENTITY_EVENTS)
EVENT_KINDS = LISTING_EVENTS + ENTITY_EVENTS

PRESENCES = tuple(Presence)
REVIEWS = tuple(ReviewState)


@dataclass(frozen=True)
class State:
    presence: Presence | None  # None = never seen
    review: ReviewState | None


UNSEEN = State(None, None)

# kind -> (allowed presences, allowed reviews, new presence or None = keep, new review or None = keep)
_ANY_P = frozenset(PRESENCES)
_ANY_R = frozenset(REVIEWS)
_RULES: dict[str, tuple[frozenset, frozenset, Presence | None, ReviewState | None]] = {
    # content facts: legal whenever the listing exists
    EventKind.CHANGED: (_ANY_P, _ANY_R, None, None),
    EventKind.RELISTED_AS: (_ANY_P, _ANY_R, None, None),
    # detection and review
    EventKind.FLAGGED: (_ANY_P, frozenset({ReviewState.NONE}), None, ReviewState.FLAGGED),
    EventKind.CONFIRMED: (_ANY_P, frozenset({ReviewState.FLAGGED}), None, ReviewState.CONFIRMED),
    EventKind.DISMISSED: (_ANY_P, frozenset({ReviewState.FLAGGED}), None, ReviewState.DISMISSED),
    # a notice can only be sent for a confirmed (or already reported: follow-up) live listing
    EventKind.REPORTED: (
        frozenset({Presence.ACTIVE}),
        frozenset({ReviewState.CONFIRMED, ReviewState.REPORTED}),
        None,
        ReviewState.REPORTED,
    ),
    # presence
    EventKind.REMOVAL_OBSERVED: (frozenset({Presence.ACTIVE}), _ANY_R, Presence.REMOVED, None),
    EventKind.REAPPEARED: (frozenset({Presence.REMOVED}), _ANY_R, Presence.ACTIVE, None),
}


def next_state(state: State, kind: str) -> State:
    """The state after `kind`, or IllegalTransition naming both."""
    if kind == EventKind.FIRST_SEEN:
        if state.presence is not None:
            raise IllegalTransition(f"first_seen on a listing already seen ({state.presence}/{state.review})")
        return State(Presence.ACTIVE, ReviewState.NONE)
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
