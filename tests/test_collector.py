"""The garbage collector's full passes run in quiet moments (live/collector.py)."""

import gc
from types import SimpleNamespace

import pytest

from queue_app.live import collector


class Stop(Exception):
    """Ends the collector's endless loop in the test."""


def test_full_passes_wait_for_a_quiet_moment_and_no_longer_start_by_themselves(monkeypatch):
    now = [0.0]
    relay = SimpleNamespace(last_delivered_at=0.0)
    passes = []
    monkeypatch.setattr(gc, "collect", lambda: passes.append(now[0]))
    threshold = gc.get_threshold()

    def sleep(seconds):
        now[0] += seconds
        # Something is delivered every half second until 70 s in; then all is quiet.
        if now[0] <= 70:
            relay.last_delivered_at = now[0] - now[0] % 0.5
        if len(passes) == 2:
            raise Stop

    try:
        with pytest.raises(Stop):
            collector.start(relay, sleep, clock=lambda: now[0])
        assert gc.get_threshold()[2] == collector.NEVER
    finally:
        gc.set_threshold(*threshold)
    # The first pass waited for a second without deliveries after its minute; the next
    # came a minute later, the server being quiet then.
    assert passes[0] == pytest.approx(71.0, abs=collector.POLL_S)
    assert passes[1] == pytest.approx(passes[0] + collector.EVERY_S)


def test_a_server_that_is_never_quiet_still_gets_a_full_pass(monkeypatch):
    now = [0.0]
    relay = SimpleNamespace(last_delivered_at=0.0)
    passes = []
    monkeypatch.setattr(gc, "collect", lambda: passes.append(now[0]))
    threshold = gc.get_threshold()

    def sleep(seconds):
        now[0] += seconds
        relay.last_delivered_at = now[0]  # always busy
        if passes:
            raise Stop

    try:
        with pytest.raises(Stop):
            collector.start(relay, sleep, clock=lambda: now[0])
    finally:
        gc.set_threshold(*threshold)
    assert passes == [pytest.approx(collector.LATEST_S, abs=collector.POLL_S)]
