"""Real server processes for tests and the benchmark: ``run.py`` on a free port, and a
private ``redis-server``.

Standard library only, so that ``bench/http_bench.py`` can use it without the test extras.
A server counts as ready when it writes its own "listening" line (``... http://HOST:PORT``),
never after a sleep; its output is drained by a thread for as long as it runs, since a
child blocked on a full pipe would stop answering.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(ROOT, "run.py")
START_DEADLINE_S = 30
STOP_DEADLINE_S = 10
PORT_ATTEMPTS = 3


class ServerFailed(RuntimeError):
    """A server did not come up (or did not go down) in time; carries its output."""


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Server:
    """One ``run.py`` process serving the database file ``db_path``.

    ``mode`` is ``QUEUE_ASYNC_MODE`` (``eventlet`` or ``threading``); ``env`` adds to
    (or, with a value of None, removes from) the environment it sets up.
    """

    def __init__(self, db_path, mode="eventlet", env=None, host="127.0.0.1"):
        self.db_path, self.mode, self.host = db_path, mode, host
        self.extra_env = dict(env or {})
        self.port = None
        self.process = None
        self.lines = []
        self._ready = threading.Event()
        self._listening = False
        self._reader = None

    @property
    def url(self):
        """The server's base address, ``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def output(self):
        """Everything the process wrote so far (stdout and stderr together)."""
        return "".join(self.lines)

    def _environment(self):
        # Hermetic by default: the file given, one process per server (no message queue),
        # and a fixed secret key so that no key file is written into the instance folder.
        env = {key: value for key, value in os.environ.items()
               if key not in ("QUEUE_DATABASE", "QUEUE_MESSAGE_QUEUE")}
        env.update(QUEUE_ASYNC_MODE=self.mode, PYTHONUNBUFFERED="1")
        env.setdefault("QUEUE_SECRET_KEY", "torn-test-server")
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def _drain(self, stream, marker):
        for line in stream:
            self.lines.append(line)
            if not self._listening and marker.search(line):
                self._listening = True
                self._ready.set()
        stream.close()
        self._ready.set()  # the process is gone: whoever waits must stop waiting

    def _spawn(self, port):
        self.port = port
        self._ready.clear()
        self._listening = False
        self.process = subprocess.Popen(
            [sys.executable, RUN_PY, "--host", self.host, "--port", str(port),
             "--db", self.db_path],
            cwd=ROOT, env=self._environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            bufsize=1,
        )
        self._reader = threading.Thread(
            target=self._drain, args=(self.process.stdout, re.compile(re.escape(self.url) + r"\b")),
            name=f"server-{port}-output", daemon=True)
        self._reader.start()

    def start(self, timeout=START_DEADLINE_S):
        """Start the process and wait until it listens; ServerFailed with its output if not.

        The free port may be taken between probing and binding; then another is tried.
        """
        for _attempt in range(PORT_ATTEMPTS):
            self.lines = []
            self._spawn(free_port(self.host))
            if self._wait_listening(timeout):
                return self
            if "Address already in use" not in self.output:
                break
        self._failed(timeout)

    def start_again(self, timeout=START_DEADLINE_S):
        """After ``stop`` or ``kill``: the same server again on the same port and file.

        Clients can reconnect to the address they knew; ``output`` keeps both runs.
        """
        if self.running:
            raise RuntimeError("the server is still running")
        self._spawn(self.port)
        if not self._wait_listening(timeout):
            self._failed(timeout)
        return self

    def _wait_listening(self, timeout):
        self._ready.wait(timeout)
        if not self._listening:
            self.kill()
        return self._listening

    def _failed(self, timeout):
        raise ServerFailed(
            f"run.py ({self.mode}) did not start listening on {self.url} within {timeout} s;"
            f" exit status {self.process.returncode}; output:\n{self.output}")

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def _end(self, sig, timeout):
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
                raise ServerFailed(
                    f"run.py did not end on {signal.Signals(sig).name}; output:\n{self.output}")
        self._reader.join(timeout)
        return self.process.returncode

    def stop(self, timeout=STOP_DEADLINE_S):
        """End the process gracefully (SIGTERM) and wait for it; its exit status."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self, timeout=STOP_DEADLINE_S):
        """End the process at once (SIGKILL, as a crash or power cut would) and wait for it."""
        return self._end(signal.SIGKILL, timeout)


class ServerPool:
    """Starts servers and kills every one still running on exit, even after a failure.

    ``with ServerPool() as servers: server = servers.start(path)``
    """

    def __init__(self):
        self.servers = []

    def start(self, db_path, mode="eventlet", env=None, timeout=START_DEADLINE_S):
        """A new listening ``Server`` (see ``Server.start``)."""
        server = Server(db_path, mode=mode, env=env)
        self.servers.append(server)
        return server.start(timeout)

    def close(self):
        """Kill every server still running."""
        for server in self.servers:
            server.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class RedisServer:
    """A private ``redis-server`` on loopback (no persistence), ready when it says so.

    ``stop()`` and ``start()`` again on the same port: a message queue that goes away and
    comes back. ``url`` is what ``QUEUE_MESSAGE_QUEUE`` takes.
    """

    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=START_DEADLINE_S):
        executable = shutil.which("redis-server")
        if not executable:
            raise ServerFailed("redis-server is missing: `make test` installs it")
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        ready = threading.Event()

        def drain():
            for line in self.process.stdout:
                if "Ready to accept connections" in line:
                    ready.set()
            ready.set()
        self._reader = threading.Thread(target=drain, daemon=True, name=f"redis-{self.port}")
        self._reader.start()
        if not ready.wait(timeout) or self.process.poll() is not None:
            self.stop()
            raise ServerFailed(f"redis-server did not start on port {self.port}")
        return self

    def stop(self, timeout=STOP_DEADLINE_S):
        """Kill it at once, as a crash would; the port is free again afterwards."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout)
        self._reader.join(timeout)
        self.process.stdout.close()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
