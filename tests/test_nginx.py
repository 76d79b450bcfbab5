"""docs/deploy/nginx.conf, a complete nginx.conf, served by a real nginx in front of a real
server: HTTPS pages and API, the HTTP-to-HTTPS redirect, the Socket.IO WebSocket through the
proxy, and the connection sizing, limits and timeouts that keep idle or greedy clients from
starving everybody else.

nginx runs the repository's file itself, worker_connections included; the test changes only
addresses, ports, certificate and file paths (pid, logs, temporary files) so that it runs as
whoever runs the tests, and drops `user`. Every swap must match exactly once.

Idle clients come from several loopback addresses (Linux routes all of 127.0.0.0/8 to lo),
as many clients would, each address under the per-address limit.
"""

import contextlib
import json
import os
import re
import resource
import socket
import ssl
import subprocess
import threading

import pytest
import requests
import socketio
import websocket  # websocket-client, python-socketio's own (its client extra)

from queue_app.rules.day import ensure_today

from servers import Nginx, ServerPool, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "docs", "deploy", "nginx.conf")
WAIT_S = 10
# More than the 768 worker_connections of Debian's nginx.conf on each of two cores (1536),
# and than nginx's default of 512.
IDLE_CONNECTIONS = 2000
IDLE_ADDRESSES = [f"127.0.0.{last}" for last in range(2, 42)]  # 50 connections each
PER_ADDRESS = 100  # limit_conn torn_addr in nginx.conf
# limit_req zone=torn_sio burst=200 in nginx.conf: more than PER_ADDRESS, so that an address
# may open all the sockets limit_conn lets it hold at once.
SIO_BURST = 200
HANDSHAKES_AT_MOST = 1000  # so many back to back outlast the burst, however slow the machine
ENGINE_IO = "/socket.io/?EIO=4&transport="
HALF_REQUEST = b"GET /api/v1/offices HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # no blank line: unfinished
SHORT_HEADER_TIMEOUT = (r"client_header_timeout 10s;", "client_header_timeout 2s;")

pytestmark = pytest.mark.slow


def nginx_config(prefix, upstream_port, http_port, https_port, cert, key, extra_swaps=()):
    """The repository's nginx.conf with only its addresses, ports and paths swapped."""
    with open(CONFIG) as source:
        text = source.read()
    temp_paths = "".join(
        f"\n    {kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    swaps = [
        (r"^user \S+;\n", ""),
        (r"^pid \S+;", f"pid {prefix}/nginx.pid;"),
        (r"^error_log \S+;", "error_log stderr notice;"),
        (r"^http \{", "http {" + temp_paths),
        (r"access_log \S+;", f"access_log {prefix}/access.log;"),
        (r"server 127\.0\.0\.1:5000;", f"server 127.0.0.1:{upstream_port};"),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        (r"ssl_certificate     \S+;", f"ssl_certificate     {cert};"),
        (r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};"),
        *extra_swaps,
    ]
    for pattern, replacement in swaps:
        text, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert found == 1, f"{pattern} is not in nginx.conf exactly once ({found} times)"
    return text


@contextlib.contextmanager
def as_many_open_files_as_allowed():
    """This process (and nginx, started from it) may open files up to its hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def proxied(request, db, tmp_path, tokens):
    """Torn (eventlet, QUEUE_BEHIND_PROXY=1) behind nginx with a self-signed certificate.

    Indirect parameters: more (pattern, replacement) swaps for the config.
    """
    ensure_today(db)
    screen_key = db.execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    # An EC key: two thousand TLS handshakes take a moment, not many seconds.
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    with as_many_open_files_as_allowed(), ServerPool() as pool:
        torn = pool.start(str(tmp_path / "queue.db"), env={"QUEUE_BEHIND_PROXY": "1"})
        http_port, https_port = free_port(), free_port()
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        (prefix / "nginx.conf").write_text(
            nginx_config(
                prefix, torn.port, http_port, https_port, cert, key, getattr(request, "param", ())
            )
        )
        with Nginx(prefix, prefix / "nginx.conf"):
            yield {
                "https": f"https://127.0.0.1:{https_port}",
                "http": f"http://127.0.0.1:{http_port}",
                "https_port": https_port,
                "cert": cert,
                "screen": screen_key,
                "tokens": tokens,
            }


def open_connection(port, source, context=None):
    """A TCP connection to nginx from the loopback address ``source``; TLS with ``context``."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S, source_address=(source, 0))
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname="127.0.0.1")
    except BaseException:
        sock.close()
        raise


def closed_by_server(sock):
    """Whether nginx closes ``sock`` (or answers 408) within WAIT_S, waiting for nothing else."""
    sock.settimeout(WAIT_S)
    try:
        data = sock.recv(4096)
    except TimeoutError:
        return False
    except OSError:  # reset (reset_timedout_connection) or a TLS connection cut short
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 408")


def waiting_quietly(sock):
    """Whether ``sock`` is still open with nothing from nginx to read (looked at, not waited on).

    TLS records that carry no data (TLS 1.3 session tickets) are read past.
    """
    sock.setblocking(False)
    try:
        sock.recv(1)  # b"" (closed) or data (an answer): either way, not waiting any more
        return False
    except (BlockingIOError, ssl.SSLWantReadError):
        return True
    except OSError:
        return False
    finally:
        sock.settimeout(WAIT_S)


def status_from(source, port, cert, path):
    """The HTTP status nginx answers a GET of ``path`` from the address ``source``."""
    with open_connection(port, source, ssl.create_default_context(cafile=cert)) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


def engineio_handshake(port, source, cert, transport):
    """An anonymous Engine.IO handshake from the address ``source`` over ``transport``
    ("websocket", or "polling": a GET without sid), closed at once as a client that
    reconnects in a loop does: (HTTP status, the first Engine.IO packet or "")."""
    context = ssl.create_default_context(cafile=cert)
    with open_connection(port, source, context) as sock:
        if transport == "websocket":
            try:
                ws = websocket.create_connection(
                    f"wss://127.0.0.1:{port}{ENGINE_IO}websocket", timeout=WAIT_S, socket=sock
                )
            except websocket.WebSocketBadStatusException as refused:
                return refused.status_code, ""
            with contextlib.closing(ws):
                return ws.status, ws.recv()
        sock.sendall(
            f"GET {ENGINE_IO}polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head, _, body = sock.makefile("rb").read().partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def is_open_packet(packet):
    """Whether ``packet`` is Engine.IO's open packet, which starts a session."""
    return packet.startswith("0{") and "sid" in json.loads(packet[1:])


def test_http_is_redirected_to_https(proxied):
    """A browser asking for http:// is sent to the same address over https://."""
    response = requests.get(
        proxied["http"] + "/api/v1/offices", allow_redirects=False, timeout=WAIT_S
    )
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://127.0.0.1")


def test_api_and_calls_go_through_https_and_the_websocket(proxied):
    """A TV connected through the proxy's WebSocket hears the call a clerk makes."""
    base, cert, tokens = proxied["https"], proxied["cert"], proxied["tokens"]
    state = requests.get(
        f"{base}/api/v1/displays/{proxied['screen']}/state", verify=cert, timeout=WAIT_S
    )
    assert state.status_code == 200 and state.json()["calls"] == []

    heard = threading.Event()
    calls = []
    http = requests.Session()
    http.verify = cert
    client = socketio.Client(http_session=http, reconnection=False)

    @client.on("ticket_called")
    def on_call(payload):
        calls.append(payload)
        heard.set()

    client.connect(
        base, auth={"screen": proxied["screen"]}, transports=["websocket"], wait_timeout=WAIT_S
    )
    try:
        assert client.transport() == "websocket"
        for role, path, body in (
            ("reception", "/tickets", {"office": "OAC"}),
            ("clerk", "/desks/1/call-next", None),
        ):
            response = requests.post(
                f"{base}/api/v1{path}",
                json=body,
                verify=cert,
                timeout=WAIT_S,
                headers={"Authorization": f"Bearer {tokens[role]}"},
            )
            assert response.status_code in (200, 201), response.text
        assert heard.wait(WAIT_S), "the call did not come through the proxy's websocket"
        assert (calls[0]["ticket"]["code"], calls[0]["desk"]) == ("A001", "Taulell 1")
    finally:
        client.disconnect()


def test_an_export_of_a_megabyte_reaches_the_import_and_nowhere_else(proxied):
    """The import takes the booking service's files through the proxy; any other path keeps
    the proxy's 64 KiB limit."""
    base, cert, tokens = proxied["https"], proxied["cert"], proxied["tokens"]
    rows = ["id,office,start,name"] + [f"r{n},XXX,nonsense,{'x' * 40}" for n in range(20000)]
    export = ("\n".join(rows) + "\n").encode()
    assert 1_000_000 < len(export) < 2 * 1024 * 1024
    admin = {"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "text/csv"}
    imported = requests.post(
        f"{base}/api/v1/appointments/import?dry_run=true",
        data=export,
        headers=admin,
        verify=cert,
        timeout=WAIT_S,
    )
    assert imported.status_code == 400  # Torn read it whole: more than its 10,000 rows
    assert "10000" in imported.json()["error"]["message"]
    elsewhere = requests.post(
        f"{base}/api/v1/tickets", data=export, headers=admin, verify=cert, timeout=WAIT_S
    )
    assert elsewhere.status_code == 413


def test_the_staff_session_cookie_is_secure_over_https(proxied):
    """Logging in over HTTPS gives a session cookie marked Secure and HttpOnly."""
    browser = requests.Session()  # (verify per request: an environment CA bundle would win)
    form = browser.get(proxied["https"] + "/login", verify=proxied["cert"], timeout=WAIT_S).text
    token = form.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = browser.post(
        proxied["https"] + "/login",
        allow_redirects=False,
        timeout=WAIT_S,
        verify=proxied["cert"],
        # Over HTTPS Flask-WTF also wants a same-site Referer, as browsers
        # send it (ProxyFix tells it the request is secure).
        headers={"Referer": proxied["https"] + "/login"},
        data={"csrf_token": token, "username": "recepcio", "password": "recepcio-demo"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/reception")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_two_thousand_half_sent_requests_do_not_starve_a_new_client(proxied):
    """With 2000 connections from 40 addresses held halfway through their request headers
    (more than Debian's 768 worker_connections on each of two cores), a TV loading its state
    still gets it, and nginx still holds every half-sent one: it has room for them all."""
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < IDLE_CONNECTIONS + 200:
        pytest.fail(
            "this process may not open enough files for the idle connections:"
            " raise its limit (ulimit -n)"
        )
    port, cert = proxied["https_port"], proxied["cert"]
    context = ssl.create_default_context(cafile=cert)
    idle = []
    try:
        for number in range(IDLE_CONNECTIONS):
            try:
                idle.append(
                    open_connection(port, IDLE_ADDRESSES[number % len(IDLE_ADDRESSES)], context)
                )
                idle[-1].sendall(HALF_REQUEST)
            except OSError as error:
                pytest.fail(f"nginx stopped answering after {number} idle connections: {error}")
        try:
            response = requests.get(
                f"{proxied['https']}/api/v1/displays/{proxied['screen']}/state",
                verify=cert,
                timeout=WAIT_S,
            )
        except requests.RequestException as error:
            pytest.fail(f"a new client got no answer next to {len(idle)} idle ones: {error}")
        assert response.status_code == 200 and response.json()["calls"] == []
        dropped = [sock for sock in idle if not waiting_quietly(sock)]
        assert dropped == [], f"nginx closed or answered {len(dropped)} idle connections"
    finally:
        for sock in idle:
            sock.close()


def test_one_address_is_refused_beyond_its_connections_and_others_are_served(proxied):
    """An address holding 100 open sockets (a TV's, logged in) gets 429 Too Many Requests for
    one more socket and for a page; a client at another address gets its page.

    The 101 Socket.IO requests are within the burst of /socket.io's limit_req (200), so the
    refused socket is limit_conn's doing: the server-level limit_conn still holds in that
    location next to its own limit_req."""
    port, cert, screen = proxied["https_port"], proxied["cert"], proxied["screen"]
    context = ssl.create_default_context(cafile=cert)
    greedy, other = "127.0.0.2", "127.0.0.3"

    def open_socket():
        return websocket.create_connection(
            f"wss://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
            timeout=WAIT_S,
            socket=open_connection(port, greedy, context),
        )

    with contextlib.ExitStack() as sockets:
        tvs = []
        for _ in range(PER_ADDRESS):
            tvs.append(open_socket())
            sockets.callback(tvs[-1].close)
        for tv in tvs:
            assert tv.recv().startswith("0")  # Engine.IO's open
            tv.send("40" + json.dumps({"screen": screen}))  # Socket.IO's connect, as a TV
        for tv in tvs:  # the answers, once all have asked (as a hundred TVs would)
            reply = tv.recv()
            while not reply.startswith(("40", "44")):  # events may come before it
                reply = tv.recv()
            assert reply.startswith("40"), f"a TV was not let in: {reply}"

        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            sockets.callback(open_socket().close)
        assert refused.value.status_code == 429
        state = f"/api/v1/displays/{screen}/state"
        assert status_from(greedy, port, cert, state) == 429
        assert status_from(other, port, cert, state) == 200


@pytest.mark.parametrize("proxied", [[SHORT_HEADER_TIMEOUT]], indirect=True, ids=["2s"])
def test_half_sent_requests_are_dropped_after_the_header_timeout(proxied):
    """A client that never finishes its request headers, or never its TLS handshake, has its
    connection closed by nginx after client_header_timeout (here 2 s instead of 10 s), so
    that it stops holding one of nginx's connections."""
    port = proxied["https_port"]
    context = ssl.create_default_context(cafile=proxied["cert"])
    with (
        open_connection(port, "127.0.0.2", context) as half_request,
        open_connection(port, "127.0.0.2") as silent,
    ):
        half_request.sendall(HALF_REQUEST)
        assert closed_by_server(half_request), "a half-sent request was kept past the timeout"
        assert closed_by_server(silent), "a silent connection was kept past the timeout"


def test_one_address_opening_sockets_as_fast_as_it_can_is_slowed_and_others_are_served(proxied):
    """An address opening Engine.IO sessions back to back (WebSocket and long-polling
    handshakes in turn, each closed at once) has its first 200 answered at once, as clients
    reconnecting together after a restart need, and then gets 429 Too Many Requests, so that
    it cannot take Torn's core for itself; meanwhile another address gets its handshakes
    answered, the first address still gets its pages, and a TV connects and gets its
    snapshot."""
    port, cert, screen = proxied["https_port"], proxied["cert"], proxied["screen"]
    greedy, other = "127.0.0.2", "127.0.0.3"
    transports = ("websocket", "polling")
    expected = {"websocket": 101, "polling": 200}
    answered, refused = 0, dict.fromkeys(transports, 0)
    for number in range(HANDSHAKES_AT_MOST):
        transport = transports[number % 2]
        status, packet = engineio_handshake(port, greedy, cert, transport)
        if status == 429:
            refused[transport] += 1
            if all(refused.values()):
                break
            continue
        assert (status, is_open_packet(packet)) == (expected[transport], True), (status, packet)
        if not any(refused.values()):
            answered += 1
    assert all(refused.values()), (
        f"{number + 1} handshakes back to back from one address, refused: {refused}"
    )
    assert answered > SIO_BURST, f"only {answered} handshakes answered before the first 429"

    for transport in transports * 2:  # a handful from elsewhere, the greedy one refused
        status, packet = engineio_handshake(port, other, cert, transport)
        assert (status, is_open_packet(packet)) == (expected[transport], True), (status, packet)
    assert status_from(greedy, port, cert, f"/api/v1/displays/{screen}/state") == 200

    snapshot = threading.Event()
    http = requests.Session()
    http.verify = cert
    client = socketio.Client(http_session=http, reconnection=False)
    client.on("snapshot", lambda payload: snapshot.set())
    client.connect(
        proxied["https"], auth={"screen": screen}, transports=["websocket"], wait_timeout=WAIT_S
    )
    try:
        assert snapshot.wait(WAIT_S), "a TV connected but got no snapshot"
    finally:
        client.disconnect()
