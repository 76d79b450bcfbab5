"""The garbage collector's full passes, moved to quiet moments.

A server holding a thousand screens' connections keeps about a million objects the cyclic
collector tracks; one full pass over them stops the (single-threaded) process for 60-120 ms.
Python starts such a pass by itself whenever enough objects have survived the younger
generations, which under load means in the middle of a call's fan-out: those were the
benchmark's worst calls (bench/socket_bench.py). So a server process (``start``) turns the
automatic full passes off and runs one itself every ``EVERY_S``, at a moment when nothing
has been delivered for ``QUIET_S`` (or after ``LATEST_S`` in any case, so that memory is
still reclaimed on a server that is never quiet). The young generations, which take well
under a millisecond, are left as they are.
"""

import gc
import time

EVERY_S = 60.0
QUIET_S = 1.0
LATEST_S = 300.0
# The automatic full pass would need this many passes of the middle generation first:
# in effect, never (gc.set_threshold's third value).
NEVER = 1_000_000
POLL_S = 0.25


def start(relay, sleep, clock=time.monotonic):
    """Run full passes in quiet moments from now on (a background task: ``sleep`` is the
    server's own); ``relay.last_delivered_at`` (on ``clock``) says when something was last
    delivered."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    while True:
        sleep(EVERY_S)
        due = clock() + LATEST_S - EVERY_S
        while clock() - relay.last_delivered_at < QUIET_S and clock() < due:
            sleep(POLL_S)
        gc.collect()
