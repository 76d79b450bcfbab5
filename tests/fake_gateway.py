"""A local fake SMS gateway for the tests: an HTTP server in a thread of the test process that
records what it is sent, the way a real provider's HTTP interface would be called, and can
be told to misbehave (answer 500, hang, answer slowly, answer garbage)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGateway:
    """``mode``: "ok" (202), "slow" (202 after ``slow_s``), "fail" (500), "hang" (never
    answers while hanging), "garbage" (not HTTP at all); with ``failing_until`` (a
    ``time.monotonic()``), 500 until then. ``received``: the accepted messages' bodies, in
    order; ``tries``: every request, accepted or not."""

    def __init__(self):
        self.mode = "ok"
        self.slow_s = 0.5
        self.failing_until = None
        self.received = []
        self.tries = []
        self.arrived = threading.Condition()
        self.released = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                mode = gateway.mode
                if gateway.failing_until is not None and time.monotonic() < gateway.failing_until:
                    mode = "fail"
                with gateway.arrived:
                    gateway.tries.append(
                        {"body": body, "headers": dict(self.headers), "mode": mode}
                    )
                    gateway.arrived.notify_all()
                if mode == "hang":
                    gateway.released.wait(60)
                    return
                if mode == "garbage":
                    self.wfile.write(b"\x00\xffnot http at all\r\n\r\n")
                    return
                if mode == "slow":
                    time.sleep(gateway.slow_s)
                status = 202 if mode in ("ok", "slow") else 500
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "fake"}')
                if status == 202:
                    with gateway.arrived:
                        gateway.received.append(body)
                        gateway.arrived.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def wait_for(self, condition, timeout=30):
        """Wait until ``condition(self)`` holds (re-checked whenever a request arrives)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: condition(self), timeout), (
                f"the gateway got {self.tries}"
            )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
