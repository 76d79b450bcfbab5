"""The fan-out (live/fanout.py): one write per connection for a commit's events, straight to
idle WebSockets, through Socket.IO's queues for the rest, and never out of order.

Against a real ``run.py`` (eventlet): WebSocket screens, a long-polling screen and a desk hear
one call in the same order; a browser-like client offering compression gets plain frames.
In-process: a frame a socket cannot take at once is finished by a task of its own before
anything else is written to that socket.
"""

import json
import socket
import warnings
from types import SimpleNamespace

import pytest
from websockets.sync.client import connect as websocket_connect

from queue_app.live import fanout

WAIT_S = 10


def names(listener, among=("snapshot", "ticket_called", "ticket_changed", "queue_changed")):
    """The events ``listener`` heard, in order, of the kinds ``among``."""
    return [name for name, _ in listener.received if name in among]


@pytest.mark.slow
def test_websocket_and_long_polling_screens_and_a_desk_hear_a_call_in_order(live, listeners):
    screens = [
        listeners(live.url, {"screen": live.screen_key}, transports=["websocket"]),
        listeners(live.url, {"screen": live.screen_key}, transports=["websocket"]),
        listeners(live.url, {"screen": live.screen_key}, transports=["polling"]),
    ]
    desk = listeners(live.url, {"token": live.tokens["clerk"], "desk": 1})
    for listener in [*screens, desk]:
        listener.wait_for("snapshot")
    issued = live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    called = live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    assert called["code"] == issued["code"]
    for screen in screens:
        heard = screen.wait_for("ticket_called")
        assert (heard["ticket"]["code"], heard["desk"]) == (issued["code"], "Taulell 1")
        screen.wait_for("queue_changed", lambda p, seq=heard["seq"]: p["seq"] > seq)
        after_snapshot = names(screen)[names(screen).index("snapshot") + 1 :]
        # The queue change, then the call before its own queue change.
        assert after_snapshot[:3] == ["queue_changed", "ticket_called", "queue_changed"]
    desk.wait_for("queue_changed", lambda p: p["waiting"] == 0)
    order = names(desk, among=("ticket_called", "ticket_changed"))
    assert order[:3] == ["ticket_changed", "ticket_called", "ticket_changed"]


@pytest.mark.slow
def test_a_client_offering_compression_gets_plain_frames_and_hears_the_call(live):
    address = live.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    # The websockets client offers permessage-deflate, as browsers do.
    with websocket_connect(address, open_timeout=WAIT_S) as ws:
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert ws.recv(WAIT_S).startswith("0")  # Engine.IO's open packet
        ws.send("40" + json.dumps({"screen": live.screen_key}))
        # The snapshot (sent by the connect handler), and the connection's acceptance.
        assert sorted(ws.recv(WAIT_S)[:4] for _ in range(2)) == ['40{"', '42["']
        issued = live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
        live.api("clerk", "POST", "/desks/1/call-next", expect=200)
        heard = []
        while not heard or heard[-1][0] != "ticket_called":
            heard.append(json.loads(ws.recv(WAIT_S).removeprefix("42")))
        assert [name for name, _ in heard] == [
            "occupancy_changed",
            "queue_changed",
            "ticket_called",
        ]
        assert heard[-1][1]["ticket"]["code"] == issued["code"]


def test_text_frames_are_framed_as_rfc_6455_says_for_every_length():
    for length, header in ((5, b"\x81\x05"), (300, b"\x81\x7e\x01\x2c")):
        assert fanout.text_frame("x" * length) == header + b"x" * length
    big = fanout.text_frame("y" * 70000)
    assert big[:10] == b"\x81\x7f" + (70000).to_bytes(8, "big") and len(big) == 70010


def read_exactly(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(65536)
        assert chunk, "closed early"
        data += chunk
    return bytes(data)


def eventlet_modules():
    """eventlet, its WebSocket and its green socket (imported knowingly: the server's)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet
        import eventlet.websocket
        from eventlet.green import socket as green_socket
    return eventlet, eventlet.websocket, green_socket


def test_a_frame_the_socket_cannot_take_at_once_is_finished_before_anything_else():
    eventlet, websocket, green_socket = eventlet_modules()
    server_side, client_side = green_socket.socketpair()
    server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ws = websocket.RFC6455WebSocket(server_side, {}, 13)
    connection = SimpleNamespace(
        torn_ws=ws, closed=False, upgrading=False, upgraded=True, queue=eventlet.Queue()
    )
    assert fanout._reserve(connection) is ws  # idle: reserved for the fan-out
    assert fanout._reserve(connection) is None  # and for nobody else meanwhile
    big = fanout.text_frame("4" + "x" * 500_000)  # far more than the socket's buffers hold
    after = fanout.text_frame("4after")
    reader = eventlet.spawn(read_exactly, client_side, len(big) + len(after))
    fanout._write(ws, big)
    # The rest is being written by a task of its own: the connection is not idle meanwhile,
    # so the fan-out sends it nothing straight away.
    assert ws._sendlock.locked()
    assert fanout._reserve(connection) is None
    ws._send(after)  # its own writer's next frame waits for the rest
    assert reader.wait() == big + after
    assert not ws._sendlock.locked()
    assert fanout._reserve(connection) is ws
    ws._sendlock.release()
    server_side.close()
    client_side.close()
