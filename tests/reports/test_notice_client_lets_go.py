"""The notice client lets go of a hostile answer at once: when its deadline or answer cap ends a
request, the connection is closed, so the platform sees the client gone (its access log records
the answer as given) instead of dripping or streaming on to a socket nobody reads."""

from __future__ import annotations

import json
import time

import pytest

from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World
from precursor_watch.enforcement.notices import Limits, NoticeSendError, http_post
from tests.fixtures.conftest import day, make_config

DEADLINE = 1.0


def _notice(key: str, url: str) -> dict:
    return {"idempotency_key": key, "urls": [url], "notifier": {"name": "Precursor Watch test", "email": "t@example.invalid"},
            "legal_basis": ["21 U.S.C. 802(34)"], "explanation": "test"}


@pytest.mark.parametrize("fault", ["huge_answer", "drip"])
def test_a_refused_answer_closes_the_connection(tmp_path, fault):
    config = make_config(tmp_path)
    with serve_in_background(config, day(3)) as handle:
        url = next(r["url"] for r in World(handle.config).truth(day(3)) if r["platform"] == "chemdir" and r["status"] == "live")
        handle.force_fault("chemdir", "/notices", fault)
        # the error is kept, as a caller that logs or stores it may: the connection must not live on in it
        with pytest.raises(NoticeSendError) as refused:
            http_post(handle.base_urls["chemdir"] + "/notices", _notice(f"let-go-{fault}", url),
                      Limits(deadline=DEADLINE, max_answer_bytes=65536))
        # the platform notices within a drip interval or two; a client that kept the socket open
        # would hold a drip for minutes and a huge answer for ever
        deadline = time.monotonic() + 10
        while True:
            lines = [json.loads(x) for x in handle.access_log.read_text().splitlines()]
            given = [x["fault"] for x in lines if x["path"] == "/notices" and x["fault"]]
            if given or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert given == [fault], refused.value
