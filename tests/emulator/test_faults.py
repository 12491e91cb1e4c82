import http.client
import urllib.error

import pytest

from reconciler.emulator import running
from reconciler.emulator.faults import Faults
from reconciler.errors import InputError
from tests.emulator.conftest import CONTOSO, Client


def _statuses(spec, requests=30):
    with running(str(CONTOSO), faults=spec) as emulator:
        graph = Client(emulator)
        statuses = []
        for _ in range(requests):
            try:
                statuses.append(graph.get("/organization").status)
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError):
                statuses.append("dropped")
        return statuses, emulator.counts(), emulator.faults_injected()


def test_faults_are_reproducible_from_the_seed():
    spec = "429:rate=0.2,retry-after=0.1;503:rate=0.1;seed=7"
    first, counts, injected = _statuses(spec)
    second, _, _ = _statuses(spec)
    assert first == second
    assert {429, 503} <= set(first) and 200 in first
    assert counts["GET /organization"] == 30  # faulted requests are counted too
    assert injected["429"] == first.count(429)
    other, _, _ = _statuses("429:rate=0.2,retry-after=0.1;503:rate=0.1;seed=8")
    assert other != first


def test_every_nth_request_is_throttled_with_a_fractional_retry_after():
    with running(str(CONTOSO), faults="429:every=2,retry-after=0.2") as emulator:
        graph = Client(emulator)
        answers = [graph.get("/organization") for _ in range(4)]
    assert [a.status for a in answers] == [200, 429, 200, 429]
    assert answers[1].headers["retry-after"] == "0.2"
    assert answers[1].body["error"]["code"] == "TooManyRequests"


def test_dropped_connections_close_without_an_answer():
    statuses, _, injected = _statuses("drop:every=3", requests=6)
    assert statuses == [200, 200, "dropped", 200, 200, "dropped"]
    assert injected == {"drop": 2}


def test_slow_answers_wait():
    import time

    with running(str(CONTOSO), faults="slow:ms=150") as emulator:
        start = time.monotonic()
        Client(emulator).get("/organization")
        assert time.monotonic() - start >= 0.15


@pytest.mark.parametrize("spec", ["418:every=2", "429:every=0", "429:rate=2", "drop:often=1"])
def test_a_bad_fault_spec_is_an_input_error(spec):
    with pytest.raises(InputError):
        Faults(spec)
