"""The garbage collector's full passes run in quiet moments (live/collector.py)."""

import gc
from types import SimpleNamespace

import pytest

from queue_app.live import collector


class Stop(Exception):
    """Ends the collector's endless loop in the test."""


@pytest.fixture
def run_collector(monkeypatch):
    """``run(busy_until, passes_wanted)``: the collector on a fake clock, a delivery every half
    second until ``busy_until`` seconds in; the moments of its full passes."""
    threshold = gc.get_threshold()

    def run(busy_until, passes_wanted):
        now = [0.0]
        relay = SimpleNamespace(last_delivered_at=0.0)
        passes = []
        monkeypatch.setattr(gc, "collect", lambda: passes.append(now[0]))

        def sleep(seconds):
            now[0] += seconds
            if now[0] <= busy_until:
                relay.last_delivered_at = now[0] - now[0] % 0.5
            if len(passes) == passes_wanted:
                raise Stop

        with pytest.raises(Stop):
            collector.start(relay, sleep, clock=lambda: now[0])
        assert gc.get_threshold()[2] == collector.NEVER
        return passes

    yield run
    gc.set_threshold(*threshold)


def test_full_passes_wait_for_a_quiet_moment_and_no_longer_start_by_themselves(run_collector):
    passes = run_collector(busy_until=70, passes_wanted=2)
    # The first pass waited for a second without deliveries after its minute; the next
    # came a minute later, the server being quiet then.
    assert passes[0] == pytest.approx(71.0, abs=collector.POLL_S)
    assert passes[1] == pytest.approx(passes[0] + collector.EVERY_S)


def test_a_server_that_is_never_quiet_still_gets_a_full_pass(run_collector):
    passes = run_collector(busy_until=float("inf"), passes_wanted=1)
    assert passes == [pytest.approx(collector.LATEST_S, abs=collector.POLL_S)]
