"""The multi-process deployment of docs/deploy/, end to end: two Torn processes started as
their systemd unit says (torn@.service: its ExecStartPre and ExecStart lines, its
Environment and the example EnvironmentFile torn.env), a private Redis, and nginx serving
docs/deploy/nginx.conf with one `server` line per process. Every client goes through nginx;
only the question of which process holds a session is put to the processes directly.

Only paths, ports and the Redis address are swapped (and the example's empty session key
filled in), as tests/test_nginx.py swaps nginx.conf's, so that a wrong command, a wrong
variable or a wrong upstream in those files fails here. The processes get the clean
environment systemd gives a service (its PATH, then the unit's variables), not this one's.

nginx sends each client address to one process (`hash $remote_addr consistent`); Linux routes
all of 127.0.0.0/8 to loopback, so clients connecting from 127.0.0.2, 127.0.0.3, ... are
spread over the processes like a town hall's devices. Which process an address lands on is
asked of the processes themselves: a client opens an Engine.IO session through nginx, and
only the process that holds it knows its id (python-engineio answers any other with 400
"Invalid session"). Torn has no header or endpoint that names the process.
"""

import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import threading
import time

import pytest
import redis
import websocket  # websocket-client, python-socketio's own (its client extra)
from test_nginx import nginx_config, open_connection

from queue_app.live.relay import CHANNEL
from queue_app.serving import SPARE_DESCRIPTORS

from conftest import journal_counter, restore_demo
from helpers import wait_until
from servers import Nginx, RedisServer, free_port

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "docs", "deploy")
UNIT = os.path.join(DEPLOY, "torn@.service")
ENV_FILE = os.path.join(DEPLOY, "torn.env")
WAIT_S = 10
START_S = 30
# systemd's PATH for services (Debian 12): all the environment a unit gets besides its own.
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENGINE_IO = "/socket.io/?EIO=4&transport="
# Loopback addresses tried as clients until each process has one (each address goes to one
# of the two processes: the chance that 50 all go to the same one is 2**-49).
SOURCES = [f"127.0.0.{last}" for last in range(2, 52)]
TEST_SECRET_KEY = "torn-test-deploy"


# The unit and its environment, swapped ------------------------------------------------


def swapped(path, swaps):
    """The file's text with each (old, new) swapped; every ``old`` must be in it."""
    with open(path) as source:
        text = source.read()
    for old, new in swaps:
        assert old in text, f"{old!r} is not in {os.path.basename(path)}"
        text = text.replace(old, new)
    return text


def unit_settings(text):
    """A unit file's settings: ``{section: {key: [values in order]}}``. One setting a line:
    no continuation lines and no quoting (the unit says it keeps to that)."""
    sections, current = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"a continued line in the unit: {line}"
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"not a setting: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def environment_lines(text):
    """``NAME=value`` lines (an EnvironmentFile, or Environment= values) as a dict."""
    variables = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        assert equals and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), f"not NAME=value: {line}"
        assert not value.startswith(('"', "'")), f"quoted, which the test does not read: {line}"
        variables[name] = value
    return variables


class Instance:
    """One ``torn@PORT`` as systemd would run it: the ExecStartPre commands to their end,
    then ExecStart, ready when it says that it listens (``... http://127.0.0.1:PORT``)."""

    def __init__(self, folder, port, redis_url):
        self.port = port
        env_path = os.path.join(folder, f"torn-{port}.env")
        with open(env_path, "w") as env_file:
            env_file.write(
                swapped(
                    ENV_FILE,
                    [
                        ("QUEUE_SECRET_KEY=\n", f"QUEUE_SECRET_KEY={TEST_SECRET_KEY}\n"),
                        ("/var/lib/torn", folder),
                        ("redis://127.0.0.1:6379/0", redis_url),
                    ],
                )
            )
        service = unit_settings(
            swapped(
                UNIT,
                [
                    ("/opt/torn", ROOT),
                    ("/var/lib/torn", folder),
                    ("/var/cache/torn", os.path.join(folder, "cache")),
                    ("/etc/torn/torn.env", env_path),
                    ("%i", str(port)),
                ],
            )
        )["Service"]
        leftover = [value for values in service.values() for value in values if "%" in value]
        assert leftover == [], f"systemd specifiers the test does not swap: {leftover}"
        self.env = {"PATH": SYSTEMD_PATH}
        self.env.update(environment_lines("\n".join(service.get("Environment", []))))
        for path in service["EnvironmentFile"]:
            with open(path) as env_file:
                self.env.update(environment_lines(env_file.read()))
        (self.cwd,) = service["WorkingDirectory"]
        self.before = [shlex.split(line) for line in service.get("ExecStartPre", [])]
        (start,) = service["ExecStart"]
        self.command = shlex.split(start)
        for command in (*self.before, self.command):
            assert os.path.isabs(command[0]), f"not an absolute path (or a prefix): {command}"
        self.process = None
        self.lines = []
        self.listening = threading.Event()

    @property
    def output(self):
        return "".join(self.lines)

    def start(self):
        for command in self.before:
            done = subprocess.run(
                command, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=START_S
            )
            assert done.returncode == 0, f"{command} failed:\n{done.stdout}{done.stderr}"
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        marker = f"http://127.0.0.1:{self.port}"
        for line in self.process.stdout:
            self.lines.append(line)
            if marker in line:
                self.listening.set()
        self.process.stdout.close()
        self.listening.set()  # gone: whoever waits must stop waiting

    def wait_listening(self):
        self.listening.wait(START_S)
        assert self.process.poll() is None and self.listening.is_set(), (
            f"torn@{self.port} did not start listening:\n{self.output}"
        )

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(WAIT_S)

    def holds(self, sid):
        """Whether this process holds the Engine.IO session ``sid`` (asked directly, not
        through nginx). The question is a close packet: it ends a long-polling session that
        the process holds, and changes nothing anywhere else (a WebSocket session refuses
        any HTTP request)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT_S)
        try:
            connection.request(
                "POST",
                f"{ENGINE_IO}polling&sid={sid}",
                body=b"1",
                headers={"Content-Type": "text/plain;charset=UTF-8"},
            )
            answer = connection.getresponse()
            body = answer.read().decode()
        finally:
            connection.close()
        return "Invalid session" not in body


# nginx in front ------------------------------------------------------------------------


def self_signed_certificate(folder):
    """A throw-away certificate for 127.0.0.1: ``(certificate path, key path)``."""
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def nginx_in_front(folder, ports, cert, key):
    """nginx serving docs/deploy/nginx.conf with one `server` line per port (the file's own
    line for the first, one more for each other, as docs/deploy/README.md has it added):
    its HTTPS port, once it listens."""
    prefix = os.path.join(folder, "nginx")
    os.mkdir(prefix)
    first, *others = ports
    lines = "".join(f"\n        server 127.0.0.1:{port};" for port in others)
    more_servers = (rf"server 127\.0\.0\.1:{first};", f"server 127.0.0.1:{first};{lines}")
    http_port, https_port = free_port(), free_port()
    config = os.path.join(prefix, "nginx.conf")
    with open(config, "w") as out:
        out.write(nginx_config(prefix, first, http_port, https_port, cert, key, [more_servers]))
    with Nginx(prefix, config):
        yield https_port


# Clients through nginx, each from one loopback address ----------------------------------


class Through:
    """Requests through nginx over HTTPS from the loopback address ``source``."""

    def __init__(self, port, cert, source):
        self.port, self.source = port, source
        self.context = ssl.create_default_context(cafile=cert)

    def request(self, method, path, body=None, headers=None):
        """One request on a connection of its own: ``(status, body text)``."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1",
            self.port,
            timeout=WAIT_S,
            context=self.context,
            source_address=(self.source, 0),
        )
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, answer.read().decode()
        finally:
            connection.close()

    def api(self, token, method, path, body=None):
        """``/api/v1`` with ``Authorization: Bearer token``: the decoded answer (2xx)."""
        status, text = self.request(
            method,
            "/api/v1" + path,
            json.dumps(body) if body is not None else None,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert 200 <= status < 300, (status, text)
        return json.loads(text)

    def polling_handshake(self):
        """A new Engine.IO session over long-polling: its sid."""
        status, text = self.request("GET", ENGINE_IO + "polling")
        assert status == 200 and text.startswith("0{"), (status, text)
        return json.loads(text[1:])["sid"]

    def socket(self, auth):
        """A Socket.IO client logged in with ``auth`` over a WebSocket (raw frames)."""
        return RawSocketIO(self, auth)

    def long_polling(self, auth):
        """A Socket.IO client logged in with ``auth`` over long-polling, never upgraded."""
        return PollingSocketIO(self, auth)


def socketio_packets(engineio_packets):
    """Socket.IO packets among Engine.IO ones (``4`` + Socket.IO's), as ``(kind, data)``:
    ``("40", {...})`` connected, ``("44", {...})`` refused, ``("42", [name, payload])``."""
    for packet in engineio_packets:
        if packet.startswith("4"):
            yield packet[:2], json.loads(packet[2:]) if len(packet) > 2 else None


class Recorder:
    """What a client heard, and waiting for an event with a deadline."""

    def __init__(self):
        self.events = []  # (name, payload) in order

    def heard(self, packets):
        for kind, data in socketio_packets(packets):
            if kind == "44":
                raise AssertionError(f"the connection was refused: {data}")
            if kind == "40":
                self.events.append(("connect", data))
            elif kind == "42":
                self.events.append((data[0], data[1] if len(data) > 1 else None))

    def wait_for(self, name, where=lambda payload: True):
        """The first ``name`` event satisfying ``where``, reading more until WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        seen = 0
        while True:
            for got, payload in self.events[seen:]:
                if got == name and where(payload):
                    return payload
            seen = len(self.events)
            left = deadline - time.monotonic()
            assert left > 0, f"no {name} within {WAIT_S} s; heard {[n for n, _ in self.events]}"
            self.read_more(left)


class RawSocketIO(Recorder):
    """Socket.IO over one WebSocket through nginx, frame by frame: Engine.IO's open, the
    login (``40`` with ``auth``), then events; it answers the server's pings."""

    def __init__(self, through, auth):
        super().__init__()
        port = through.port
        sock = open_connection(port, through.source, through.context)
        try:
            self.ws = websocket.create_connection(
                f"wss://127.0.0.1:{port}{ENGINE_IO}websocket", timeout=WAIT_S, socket=sock
            )
        except BaseException:
            sock.close()
            raise
        opened = self.ws.recv()
        assert opened.startswith("0{"), opened
        self.sid = json.loads(opened[1:])["sid"]
        self.ws.send("40" + json.dumps(auth))
        self.wait_for("connect")

    def read_more(self, timeout):
        self.ws.settimeout(timeout)
        try:
            packet = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return  # nothing within the deadline: wait_for says so
        if packet == "2":  # Engine.IO's ping
            self.ws.send("3")
        self.heard([packet])

    def close(self):
        self.ws.close()


class PollingSocketIO(Recorder):
    """Socket.IO over Engine.IO long-polling through nginx, each request on a connection of
    its own (so nginx chooses the process again every time): what a browser does when
    WebSockets do not get through."""

    def __init__(self, through, auth):
        super().__init__()
        self.through = through
        self.sid = through.polling_handshake()
        self.requests = 1
        status, text = self._send("POST", "40" + json.dumps(auth))
        assert status == 200, (status, text)
        self.wait_for("connect")

    def _send(self, method, body=None):
        self.requests += 1
        return self.through.request(
            method,
            f"{ENGINE_IO}polling&sid={self.sid}",
            body=body,
            headers={"Content-Type": "text/plain;charset=UTF-8"} if body else None,
        )

    def read_more(self, timeout):
        try:
            status, text = self._send("GET")  # held by the server until it has something to say
        except TimeoutError:
            return  # nothing within the deadline: wait_for says so
        assert status == 200, f"request {self.requests} of the session: {status} {text}"
        packets = text.split("\x1e")
        if "2" in packets:  # Engine.IO's ping
            assert self._send("POST", "3")[0] == 200
        self.heard(packets)

    def close(self):
        self._send("POST", "1")


# The deployment ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployment(template, tmp_path_factory):
    """Redis, two unit instances on one database and nginx in front, for the module:
    ``(database path, processes, nginx's HTTPS port, certificate, {process: source}, Redis's
    URL)``, where each source is a loopback address that nginx sends to that process."""
    folder = str(tmp_path_factory.mktemp("deploy"))
    path = os.path.join(folder, "queue.db")  # QUEUE_DATABASE in torn.env, swapped
    restore_demo(template[0], path)
    cert, key = self_signed_certificate(folder)
    with RedisServer(folder) as wake_ups, contextlib.ExitStack() as running:
        processes = [Instance(folder, free_port(), wake_ups.url) for _ in range(2)]
        for process in processes:
            running.callback(process.stop)
            process.start()
        for process in processes:
            process.wait_listening()
        https_port = running.enter_context(
            nginx_in_front(folder, [process.port for process in processes], cert, key)
        )
        sources = {}
        for source in SOURCES:
            sid = Through(https_port, cert, source).polling_handshake()
            holders = [process for process in processes if process.holds(sid)]
            assert len(holders) == 1, f"{len(holders)} processes hold one session"
            sources.setdefault(holders[0], source)
            if len(sources) == len(processes):
                break
        else:
            pytest.fail(f"nginx sent all of {len(SOURCES)} addresses to one process")
        yield path, processes, https_port, cert, sources, wake_ups.url


@pytest.fixture
def town_hall(deployment, template, tokens):
    """The deployment serving the demo town hall of today again (rewritten under the running
    processes, its journal's seq going on rising): ``(processes, through, screen, tokens)``,
    ``through[process]`` the client address nginx sends to that process."""
    path, processes, port, cert, sources, _ = deployment
    restore_demo(template[0], path, journal_from=journal_counter(path))
    for process in processes:
        assert process.process.poll() is None, f"torn@{process.port} ended:\n{process.output}"
    screen = template[0].execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    through = {process: Through(port, cert, source) for process, source in sources.items()}
    return processes, through, screen, tokens


def test_every_process_listens_for_wake_ups_on_redis(deployment):
    """Both processes subscribe to the journal's wake-ups on the unit's Redis, so that a call
    reaches the other process's screens at once rather than at its next look at the journal
    (every second), which would hide a missing QUEUE_MESSAGE_QUEUE from the tests below."""
    *_, redis_url = deployment
    queue = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: queue.pubsub_numsub(CHANNEL) == [(CHANNEL.encode(), 2)], WAIT_S)
    finally:
        queue.close()


def test_a_call_on_one_process_reaches_the_tv_and_the_phone_on_the_other(town_hall):
    """Through nginx: the waiting room's TV and a citizen's ticket page are connected to
    process B; reception issues the ticket and the clerk calls it through process A. The
    TV shows the call and the phone says it is the citizen's turn."""
    (a, b), through, screen, tokens = town_hall
    ticket = through[a].api(tokens["reception"], "POST", "/tickets", {"office": "OAC"})
    with contextlib.ExitStack() as sockets:
        tv = through[b].socket({"screen": screen})
        sockets.callback(tv.close)
        phone = through[b].socket({"ticket": ticket["token"]})
        sockets.callback(phone.close)
        assert tv.wait_for("snapshot")["calls"] == []
        assert phone.wait_for("snapshot")["ticket"]["status"] == "waiting"
        for sock in (tv, phone):  # on B, and not on A, where the call is made
            assert (a.holds(sock.sid), b.holds(sock.sid)) == (False, True)

        called = through[a].api(tokens["clerk"], "POST", "/desks/1/call-next")
        assert called["code"] == ticket["code"]

        shown = tv.wait_for("ticket_called", lambda p: p["ticket"]["code"] == ticket["code"])
        assert shown["desk"] == "Taulell 1" and shown["recall"] is False
        assert "token" not in shown["ticket"]  # a TV never gets a ticket's secret
        mine = phone.wait_for("ticket_changed", lambda p: p["ticket"]["status"] == "called")
        assert (mine["ticket"]["code"], mine["ticket"]["desk"]) == (ticket["code"], "Taulell 1")


@pytest.mark.parametrize("where", ["first", "second"])
def test_a_long_polling_screen_stays_with_its_process_across_requests(town_hall, where):
    """A TV whose WebSocket does not get through talks long-polling: every request of its
    session, each on a new connection, reaches the process that holds it (any other would
    answer 400), through its login, its snapshot and a call made on the other process."""
    (a, b), through, screen, tokens = town_hall
    own, other = (a, b) if where == "first" else (b, a)
    tv = through[own].long_polling({"screen": screen})
    try:
        assert tv.wait_for("snapshot")["calls"] == []
        ticket = through[other].api(tokens["reception"], "POST", "/tickets", {"office": "HAB"})
        through[other].api(tokens["clerk"], "POST", "/desks/7/call-next")
        shown = tv.wait_for("ticket_called", lambda p: p["ticket"]["code"] == ticket["code"])
        assert shown["desk"] == "Taulell 7"
        assert tv.requests >= 4  # handshake, login, and polls: all on one process
        assert (own.holds(tv.sid), other.holds(tv.sid)) == (True, False)
    finally:
        tv.close()  # (already closed by the last question, unless an assertion came first)


def test_each_process_may_open_a_file_for_every_connection_it_serves():
    """The unit's LimitNOFILE leaves run.py room for QUEUE_MAX_CONNECTIONS connections plus
    the descriptors it keeps for itself (queue_app/serving.py): otherwise run.py lowers its
    connection ceiling."""
    with open(UNIT) as unit:
        (limit,) = unit_settings(unit.read())["Service"]["LimitNOFILE"]
    with open(ENV_FILE) as env_file:
        connections = int(environment_lines(env_file.read())["QUEUE_MAX_CONNECTIONS"])
    assert int(limit) >= connections + SPARE_DESCRIPTORS


def test_the_units_are_valid_for_systemd(tmp_path):
    """systemd-analyze checks torn@.service and torn.target (paths swapped to this checkout,
    so that the commands exist): every key known, every value readable, nothing to warn."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: `make test` installs it"
    (tmp_path / "torn@.service").write_text(
        swapped(UNIT, [("/opt/torn", ROOT), ("/etc/torn/torn.env", ENV_FILE)])
    )
    shutil.copy(os.path.join(DEPLOY, "torn.target"), tmp_path / "torn.target")
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / "torn@5000.service"), str(tmp_path / "torn.target")],
        capture_output=True,
        text=True,
        timeout=START_S,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
