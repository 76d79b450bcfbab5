"""The token buckets behind the socket limits, on a clock the test moves."""

from queue_app.live.guard import Buckets


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_burst_at_once_then_the_rate():
    clock = Clock()
    buckets = Buckets(burst=3, per_s=2, clock=clock)
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")  # each key has its own bucket
    clock.now += 0.5  # one token back
    assert [buckets.take("a") for _ in range(2)] == [True, False]
    clock.now += 60  # never more than the burst
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]


def test_a_forgotten_key_starts_full_and_old_full_buckets_are_dropped():
    clock = Clock()
    buckets = Buckets(burst=2, per_s=1, clock=clock, kept=3)
    buckets.take("a"), buckets.take("a")
    buckets.forget("a")
    assert buckets.take("a")
    for key in ("b", "c"):
        buckets.take(key)
    clock.now += 10  # every bucket is full again
    buckets.take("d")
    assert set(buckets.counts) == {"d"}
