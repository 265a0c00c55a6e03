"""The state machine alone: which transitions are legal."""

import pytest

from precursor_watch.storage.errors import IllegalTransition
from precursor_watch.storage.state import UNSEEN, State, derive_state, next_state


def test_a_full_life():
    kinds = ["first_seen", "changed", "flagged", "confirmed", "reported", "removal_observed", "relisted_as",
             "reappeared", "reported", "removal_observed"]
    assert derive_state(kinds) == State("removed", "reported")


@pytest.mark.parametrize(
    "kinds, bad",
    [
        ([], "changed"),  # never seen
        (["first_seen"], "first_seen"),
        (["first_seen"], "confirmed"),  # not flagged
        (["first_seen", "flagged", "dismissed"], "confirmed"),  # decided already
        (["first_seen", "flagged"], "reported"),  # not confirmed
        (["first_seen", "flagged", "confirmed", "removal_observed"], "reported"),  # removed
        (["first_seen"], "reappeared"),  # not removed
        (["first_seen", "removal_observed"], "removal_observed"),
        (["first_seen", "flagged"], "flagged"),
        (["first_seen"], "account_closed"),  # not a listing event
    ],
)
def test_illegal_transitions(kinds, bad):
    state = derive_state(kinds)
    with pytest.raises(IllegalTransition, match=bad):
        next_state(state, bad)


def test_unseen_is_the_start():
    assert next_state(UNSEEN, "first_seen") == State("active", "none")
