"""What an attacker or a careless operator does to a real ``run.py``, and what everyone else
still sees: megabyte frames and thousands of idle connections do not stall the town hall, a
second server on the same port says so and stops, a chunked body is read, a call made while
Redis is down still reaches a screen on another process, and logging out closes the user's
live connections in every process."""

import os
import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from queue_app import serving
from queue_app.live import guard
from queue_app.rules.day import ensure_today

from helpers import api_request, csrf_token, ticket_id, wait_until
from live_clients import WAIT_S
from servers import RUN_PY, RawWebSocket, RedisServer, ServerPool, masked_frame

pytestmark = pytest.mark.slow

IDLE_EACH = 1000  # half-sent HTTP requests, and as many silent WebSockets
# A frame of "about a megabyte" that Engine.IO's default limit (1,000,000 bytes) let in.
NEAR_A_MEGABYTE = b"4" + b"x" * 900_000


@pytest.fixture
def town_hall(db, tmp_path, tokens):
    """``(database path, waiting-room screen key, {role: token})`` for real servers."""
    ensure_today(db)
    key = db.execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    return str(tmp_path / "queue.db"), key, tokens


@pytest.fixture
def server(town_hall):
    """A server of the test's own, for the tests that abuse it: what one leaves behind
    (spent per-address allowances, connections still closing) must not meet the next.
    Tests that only ask something of a server take the module's, ``live``."""
    with ServerPool() as pool:
        yield pool.start(town_hall[0])


def websocket(server, timeout=WAIT_S, source=None):
    """A raw WebSocket to Engine.IO, opened (its open packet read), sending nothing more;
    from the loopback address ``source`` if given."""
    return RawWebSocket(server.port, timeout=timeout, source=source).sock


def addresses(count):
    """``count`` loopback client addresses (Linux routes all of 127.0.0.0/8 to lo), as
    many clients have: each address may open only so many connections at once."""
    return [f"127.0.{1 + index // 250}.{2 + index % 250}" for index in range(count)]


def closed_by_server(sockets, timeout):
    """Wait until the server closed each socket (read to its end); the ones still open."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    open_ = set(sockets)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:  # woken with nothing to read after all
                continue
            except ConnectionResetError:
                data = b""
            if data == b"":
                selector.unregister(key.fileobj)
                open_.discard(key.fileobj)
    selector.close()
    return open_


@pytest.fixture
def many_files():
    """Room in this process for thousands of client sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 3 * IDLE_EACH + 512)
    if wanted < 2 * IDLE_EACH + 256:
        pytest.fail(f"this machine allows only {hard} open files per process")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# 3. Megabyte frames ------------------------------------------------------------------------


def test_a_megabyte_frame_is_refused_from_its_header(live):
    """The server reads the frame's declared length and answers "message too big" (close
    code 1009) without waiting for, or reading, the megabyte itself."""
    with websocket(live.server) as sock:
        sock.sendall(masked_frame(NEAR_A_MEGABYTE)[:14])  # the header and mask only
        closing = sock.recv(4096)
        assert closing[:1] == b"\x88"  # a close frame ...
        assert int.from_bytes(closing[2:4], "big") == 1009  # ... "message too big"
        assert sock.recv(4096) == b""  # and the connection closed


def test_while_one_client_sends_megabyte_frames_everyone_else_is_served(server, town_hall):
    stop = threading.Event()
    attempts = []

    def abuse():
        big = masked_frame(NEAR_A_MEGABYTE)
        while not stop.is_set():
            try:
                with websocket(server) as sock:
                    while not stop.is_set():  # frame after frame, as long as it may
                        attempts.append(1)
                        sock.sendall(big)
            except OSError:  # the server closed it: again, on a new connection
                pass

    attacker = threading.Thread(target=abuse, daemon=True)
    attacker.start()
    try:
        wait_until(lambda: len(attempts) >= 3)
        for _ in range(20):
            assert requests.get(f"{server.url}/login", timeout=WAIT_S).status_code == 200
            state = requests.get(
                f"{server.url}/api/v1/displays/{town_hall[1]}/state", timeout=WAIT_S
            )
            assert state.status_code == 200
    finally:
        stop.set()
        attacker.join(WAIT_S)


def test_a_message_in_many_small_frames_is_refused_when_it_grows_too_long(server, town_hall):
    """Fragments of at most 4 KiB each, streamed as fast as the client can: the server
    closes the connection (1009) once they add up past the limit, and answers everyone
    else meanwhile."""
    stop = threading.Event()
    endings = []

    def stream():
        while not stop.is_set():
            try:
                with websocket(server) as sock:
                    sock.sendall(masked_frame(b"4" + b"x" * 2000, final=False))
                    piece = masked_frame(b"x" * 4000, opcode=0x0, final=False)
                    while not stop.is_set():
                        sock.sendall(piece)
            except OSError as error:  # the server closed it
                endings.append(error)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    try:
        wait_until(lambda: len(endings) >= 3)
        for _ in range(20):
            assert (
                requests.get(
                    f"{server.url}/api/v1/displays/{town_hall[1]}/state", timeout=WAIT_S
                ).status_code
                == 200
            )
    finally:
        stop.set()
        streamer.join(WAIT_S)
    with websocket(server, source="127.0.0.2") as sock:  # what the streaming client was told
        sock.sendall(
            masked_frame(b"4" + b"x" * 2000, final=False)
            + masked_frame(b"x" * 4000, opcode=0x0, final=False)
        )
        closing = sock.recv(4096)
        assert closing[:1] == b"\x88" and int.from_bytes(closing[2:4], "big") == 1009


def test_a_long_polling_post_above_the_limit_is_refused(live):
    server = live.server
    handshake = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=WAIT_S)
    sid = re.search(r'"sid":"([^"]+)"', handshake.text)[1]
    answer = requests.post(
        f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}",
        data="4" + "x" * (guard.MAX_MESSAGE_BYTES * 4),
        timeout=WAIT_S,
    )
    assert answer.status_code == 413
    # The session it tried to use is not stuck either: its next poll is answered with
    # Engine.IO's close packet once the server closes it as anonymous, and then it is gone.
    poll = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    closing = requests.get(poll, timeout=guard.LOGIN_DEADLINE_S + WAIT_S)
    assert closing.status_code == 200 and closing.text.endswith("1")
    assert requests.get(poll, timeout=WAIT_S).status_code == 400


# 4. Idle connections -------------------------------------------------------------------------


def test_two_thousand_idle_connections_do_not_starve_a_new_client(
    server, town_hall, listeners, many_files
):
    """A thousand half-sent requests and a thousand WebSockets that never log in are open;
    a TV and a reception system connecting now are served as usual, and the server closes
    the idle ones itself (requests after the head deadline, sockets after the login one)."""
    idle = []
    try:
        for _ in range(IDLE_EACH):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: torn\r\n")  # never finished
            idle.append(sock)
        for source in addresses(IDLE_EACH // 100) * 100:
            idle.append(websocket(server, source=source))

        assert requests.get(f"{server.url}/login", timeout=WAIT_S).status_code == 200
        api_request(
            server, town_hall[2]["reception"], "POST", "/tickets", {"office": "OAC"}, expect=201
        )
        display = listeners(server.url, {"screen": town_hall[1]})
        assert display.wait_for("snapshot")["waiting"]["OAC"] == 1

        deadline = max(serving.HEAD_TIMEOUT_S, guard.LOGIN_DEADLINE_S) + WAIT_S
        assert closed_by_server(idle, deadline) == set()
    finally:
        for sock in idle:
            sock.close()


def test_one_address_opening_connections_as_fast_as_it_can_is_slowed_and_others_served(
    server, town_hall, listeners
):
    """Each Engine.IO handshake costs the server's core; one address may open a burst of
    them (every device behind one carrier address reconnecting after a restart), then gets
    429, while another address, and a TV, connect as usual."""
    handshake = f"{server.url}/socket.io/?EIO=4&transport=polling"
    answers = []
    with requests.Session() as greedy:
        greedy.mount("http://", SourceAddress("127.0.0.2"))
        while 429 not in answers and len(answers) < 5 * guard.OPEN_BURST:
            answers.append(greedy.get(handshake, timeout=WAIT_S).status_code)
    assert answers.count(200) >= guard.OPEN_BURST and answers[-1] == 429
    with requests.Session() as other:
        other.mount("http://", SourceAddress("127.0.0.3"))
        assert other.get(handshake, timeout=WAIT_S).text.startswith("0{")
    display = listeners(server.url, {"screen": town_hall[1]})
    assert display.wait_for("snapshot")["seq"] > 0


class SourceAddress(requests.adapters.HTTPAdapter):
    """Connections from one loopback address."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


# 5. A taken port -----------------------------------------------------------------------------


def test_a_second_server_on_a_taken_port_says_so_and_stops(live):
    server = live.server
    env = dict(os.environ, QUEUE_SECRET_KEY="torn-test-server", QUEUE_ASYNC_MODE="eventlet")
    second = subprocess.run(
        [
            sys.executable,
            RUN_PY,
            "--host",
            "127.0.0.1",
            "--port",
            str(server.port),
            "--db",
            live.path,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert second.returncode != 0
    assert "already in use" in second.stderr
    assert requests.get(f"{server.url}/login", timeout=WAIT_S).status_code == 200


# 8. A chunked body ---------------------------------------------------------------------------


NODELAY_OF_ACCEPTED = """
import socket, warnings
warnings.simplefilter("ignore")  # eventlet says it is deprecated when imported
from queue_app import serving
listening = serving.listen("127.0.0.1", 0)
client = socket.create_connection(listening.getsockname())
accepted, _ = listening.accept()
print(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
"""


def test_connections_send_without_nagles_delay():
    """A large answer's second write, and a call's few bytes to a screen, leave at once
    (the server's own socket, in a process of its own as run.py has it)."""
    run = subprocess.run(
        [sys.executable, "-c", NODELAY_OF_ACCEPTED], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) != 0


def test_a_chunked_request_body_is_read(live):
    def chunks():
        yield b'{"office": '
        yield b'"OMIC"}'

    answer = requests.post(
        f"{live.url}/api/v1/tickets",
        data=chunks(),
        timeout=WAIT_S,
        headers={
            "Authorization": f"Bearer {live.tokens['reception']}",
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["code"] == "C001"


def test_a_chunked_body_above_the_limit_is_refused(live):
    def chunks():
        for _ in range(100):
            yield b" " * 1024

    answer = requests.post(
        f"{live.url}/api/v1/tickets",
        data=chunks(),
        timeout=WAIT_S,
        headers={"Authorization": f"Bearer {live.tokens['reception']}"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


# 7. Redis going away -------------------------------------------------------------------------


def health(server):
    answer = requests.get(f"{server.url}/healthz", timeout=WAIT_S)
    return answer.status_code, answer.json()


def test_a_call_made_while_redis_is_down_reaches_a_screen_on_the_other_process(
    town_hall, listeners, tmp_path
):
    path, key, tokens = town_hall
    with RedisServer(tmp_path) as redis, ServerPool() as pool:
        env = {"QUEUE_MESSAGE_QUEUE": redis.url}
        server_a, server_b = pool.start(path, env=env), pool.start(path, env=env)
        wait_until(lambda: health(server_a)[0] == health(server_b)[0] == 200)
        display = listeners(server_b.url, {"screen": key})
        display.wait_for("snapshot")

        redis.stop()
        wait_until(
            lambda: health(server_a) == (503, {"status": "degraded", "degraded": ["message_queue"]})
        )
        api_request(
            server_a, tokens["reception"], "POST", "/tickets", {"office": "ORGT"}, expect=201
        )
        api_request(server_a, tokens["clerk"], "POST", "/desks/8/call-next", expect=200)
        called = display.wait_for("ticket_called")
        assert (called["ticket"]["code"], called["desk"]) == ("T001", "Taulell 8")

        redis.start()
        wait_until(lambda: health(server_a)[0] == health(server_b)[0] == 200)
        api_request(
            server_a,
            tokens["clerk"],
            "POST",
            f"/tickets/{ticket_id(path, 'T001')}/finish",
            expect=200,
        )
        api_request(
            server_a, tokens["reception"], "POST", "/tickets", {"office": "ORGT"}, expect=201
        )
        api_request(server_a, tokens["clerk"], "POST", "/desks/8/call-next", expect=200)
        display.wait_for("ticket_called", lambda p: p["ticket"]["code"] == "T002")
        calls = [p["ticket"]["code"] for name, p in display.received if name == "ticket_called"]
        assert calls == ["T001", "T002"]  # each heard once


# 2. Sessions across processes ---------------------------------------------------------------


def test_logging_out_on_one_process_closes_the_users_sockets_on_another(
    town_hall, listeners, tmp_path
):
    path = town_hall[0]
    with RedisServer(tmp_path) as redis, ServerPool() as pool:
        env = {"QUEUE_MESSAGE_QUEUE": redis.url}
        server_a, server_b = pool.start(path, env=env), pool.start(path, env=env)
        browser = requests.Session()
        login = browser.get(f"{server_a.url}/login", timeout=WAIT_S)
        browser.post(
            f"{server_a.url}/login",
            timeout=WAIT_S,
            data={
                "username": "taulell1",
                "password": "taulell1-demo",
                "csrf_token": csrf_token(login.text),
            },
        )
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        desk_page = listeners(server_b.url, {"desk": 1}, {"Cookie": cookie})
        desk_page.wait_for("snapshot")

        page = browser.get(f"{server_a.url}/desk", timeout=WAIT_S)
        browser.post(
            f"{server_a.url}/logout", data={"csrf_token": csrf_token(page.text)}, timeout=WAIT_S
        )
        desk_page.wait_for("disconnect")
        assert browser.get(f"{server_b.url}/api/v1/desks", timeout=WAIT_S).status_code == 401
