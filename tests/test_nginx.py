"""docs/deploy/nginx.conf, served by a real nginx in front of a real server: HTTPS pages and
API, the HTTP-to-HTTPS redirect, and the Socket.IO WebSocket through the proxy."""
import os
import re
import shutil
import subprocess
import threading

import pytest
import requests
import socketio

from queue_app.day import ensure_today
from servers import ServerPool, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "docs", "deploy", "nginx.conf")
WAIT_S = 10

pytestmark = pytest.mark.slow


def site_config(upstream_port, http_port, https_port, cert, key):
    """The repository's nginx.conf with only its addresses and certificate paths swapped."""
    with open(CONFIG) as source:
        text = source.read()
    swaps = [
        (r"server 127\.0\.0\.1:5000;", f"server 127.0.0.1:{upstream_port};"),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        (r"ssl_certificate     \S+;", f"ssl_certificate     {cert};"),
        (r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};"),
    ]
    for pattern, replacement in swaps:
        text, found = re.subn(pattern, replacement, text)
        assert found == 1, f"{pattern} not in nginx.conf"
    return text


@pytest.fixture
def proxied(db, tmp_path, tokens):
    """Torn (eventlet, QUEUE_BEHIND_PROXY=1) behind nginx with a self-signed certificate."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.path.exists(nginx), "nginx is missing: `make test` installs it"
    ensure_today(db)
    screen_key = db.execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    with ServerPool() as pool:
        torn = pool.start(str(tmp_path / "queue.db"), env={"QUEUE_BEHIND_PROXY": "1"})
        http_port, https_port = free_port(), free_port()
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        (prefix / "torn.conf").write_text(
            site_config(torn.port, http_port, https_port, cert, key))
        (prefix / "nginx.conf").write_text(
            f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log stderr notice;\n"
            "events {}\nhttp {\n  access_log off;\n"
            + "".join(f"  {kind}_temp_path {prefix}/{kind};\n"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + f"  include {prefix}/torn.conf;\n}}\n")
        process = subprocess.Popen(
            [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        try:
            for line in process.stderr:   # it says so once it listens and has a worker
                lines.append(line)
                if "start worker process" in line:
                    break
            else:
                pytest.fail("nginx did not start:\n" + "".join(lines))
            drain = threading.Thread(target=process.stderr.read, daemon=True)
            drain.start()
            yield {"https": f"https://127.0.0.1:{https_port}",
                   "http": f"http://127.0.0.1:{http_port}", "cert": cert,
                   "screen": screen_key, "tokens": tokens}
        finally:
            process.terminate()
            process.wait(WAIT_S)
            process.stderr.close()


def test_http_is_redirected_to_https(proxied):
    response = requests.get(proxied["http"] + "/api/v1/offices", allow_redirects=False,
                            timeout=WAIT_S)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://127.0.0.1")


def test_api_and_calls_go_through_https_and_the_websocket(proxied):
    base, cert, tokens = proxied["https"], proxied["cert"], proxied["tokens"]
    state = requests.get(f"{base}/api/v1/displays/{proxied['screen']}/state", verify=cert,
                         timeout=WAIT_S)
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

    client.connect(base, auth={"screen": proxied["screen"]}, transports=["websocket"],
                   wait_timeout=WAIT_S)
    try:
        assert client.transport() == "websocket"
        for role, path, body in (("reception", "/tickets", {"office": "OAC"}),
                                 ("clerk", "/desks/1/call-next", None)):
            response = requests.post(f"{base}/api/v1{path}", json=body, verify=cert,
                                     timeout=WAIT_S,
                                     headers={"Authorization": f"Bearer {tokens[role]}"})
            assert response.status_code in (200, 201), response.text
        assert heard.wait(WAIT_S), "the call did not come through the proxy's websocket"
        assert (calls[0]["ticket"]["code"], calls[0]["desk"]) == ("A001", "Taulell 1")
    finally:
        client.disconnect()


def test_the_staff_session_cookie_is_secure_over_https(proxied):
    browser = requests.Session()   # (verify per request: an environment CA bundle would win)
    form = browser.get(proxied["https"] + "/login", verify=proxied["cert"], timeout=WAIT_S).text
    token = form.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = browser.post(proxied["https"] + "/login", allow_redirects=False, timeout=WAIT_S,
                            verify=proxied["cert"],
                            # Over HTTPS Flask-WTF also wants a same-site Referer, as browsers
                            # send it (ProxyFix tells it the request is secure).
                            headers={"Referer": proxied["https"] + "/login"},
                            data={"csrf_token": token, "username": "recepcio",
                                  "password": "recepcio-demo"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/reception")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
