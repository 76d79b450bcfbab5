"""Real server processes for tests and the benchmark: ``run.py`` on a free port, a
private ``redis-server``, and a raw WebSocket client for what no real client sends.

Standard library only, so that ``bench/http_bench.py`` can use it without the test extras.
A server counts as ready when it writes its own "listening" line (``... http://HOST:PORT``),
never after a sleep; its output is drained by a thread for as long as it runs, since a
child blocked on a full pipe would stop answering.
"""

import base64
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
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("QUEUE_DATABASE", "QUEUE_MESSAGE_QUEUE")
        }
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
            [
                sys.executable,
                RUN_PY,
                "--host",
                self.host,
                "--port",
                str(port),
                "--db",
                self.db_path,
            ],
            cwd=ROOT,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._reader = threading.Thread(
            target=self._drain,
            args=(self.process.stdout, re.compile(re.escape(self.url) + r"\b")),
            name=f"server-{port}-output",
            daemon=True,
        )
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
            f" exit status {self.process.returncode}; output:\n{self.output}"
        )

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
                    f"run.py did not end on {signal.Signals(sig).name}; output:\n{self.output}"
                ) from None
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
            [
                executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
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

    def flush(self):
        """Forget every key (``FLUSHALL``), as a new server would have none."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=STOP_DEADLINE_S) as sock:
            sock.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
            answer = sock.recv(64)
        if answer != b"+OK\r\n":
            raise ServerFailed(f"redis-server answered FLUSHALL with {answer!r}")

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


# nginx -------------------------------------------------------------------------------------


class Nginx:
    """``nginx`` in the foreground on the config file ``config`` (prefix ``prefix``), as a
    context manager: entered once it listens and has a worker (it says so on its error
    output), stopped on exit."""

    def __init__(self, prefix, config):
        self.command = [NGINX, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"]
        self.process = None

    def __enter__(self):
        if not os.path.exists(NGINX):
            raise ServerFailed("nginx is missing: `make test` installs it")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        said = []
        try:
            for line in self.process.stderr:
                said.append(line)
                if "start worker process" in line:
                    break
            else:
                raise ServerFailed("nginx did not start:\n" + "".join(said))
        except BaseException:
            self.__exit__()
            raise
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.process.terminate()
        self.process.wait(STOP_DEADLINE_S)
        self.process.stderr.close()


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


# A raw WebSocket client ----------------------------------------------------------------

ENGINE_IO_WEBSOCKET = "/socket.io/?EIO=4&transport=websocket"


def masked_frame(payload, opcode=0x1, mask=None, final=True):
    """One masked client WebSocket frame (text by default; ``final=False``: a fragment), as
    RFC 6455 section 5.2 has it."""
    mask = mask or os.urandom(4)
    length = len(payload)
    first = (0x80 if final else 0) | opcode
    if length < 126:
        header = bytes([first, 0x80 | length])
    elif length < 65536:
        header = bytes([first, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, 0x80 | 127]) + length.to_bytes(8, "big")
    key = (mask * (length // 4 + 1))[:length]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
    return header + mask + body


class RawWebSocket:
    """A WebSocket to the server's Engine.IO on a plain socket, opened: the upgrade answered
    (101) and Engine.IO's ``open`` packet read. Frames from the server are not masked."""

    def __init__(self, port, timeout=10, source=None):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.buffer = bytearray()
        try:
            self._handshake(port)
        except BaseException:
            self.sock.close()
            raise

    def _handshake(self, port):
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {ENGINE_IO_WEBSOCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"no WebSocket: {head[:60]!r}")
        self.buffer = bytearray(rest)
        opcode, payload = self.recv_frame()
        if opcode != 0x1 or not payload.startswith(b"0"):
            raise ConnectionError(f"no Engine.IO open packet: {payload[:60]!r}")

    def _receive(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def _take(self, count):
        while len(self.buffer) < count:
            self._receive()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def recv_frame(self):
        """The next frame from the server: ``(opcode, payload)``."""
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._take(2), "big")
        elif length == 127:
            length = int.from_bytes(self._take(8), "big")
        return first & 0x0F, self._take(length)

    def send_text(self, text):
        """One masked text frame."""
        self.sock.sendall(masked_frame(text.encode()))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
