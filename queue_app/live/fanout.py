"""Events to every connection of a room, encoded once and written straight to each socket.

Socket.IO's own ``emit`` encodes a packet once too, but then queues it for each connection and
wakes that connection's writer task, which frames and writes it: a task switch and some 30
microseconds of Python per screen, on top of the write itself, for every event. With a
thousand screens that was most of a call's 40-100 ms. Here (``Batch``) the events of one
commit are gathered first: for each connection on a WebSocket whose writer is idle (nothing
queued, not writing), the WebSocket frame built once per event and room is added to what that
connection gets, and then each connection gets all of it in one write, without blocking
(``_write``). The rest, a connection still long-polling, being upgraded or with a busy writer,
gets the packets through Socket.IO as before, so the frames of one connection never overtake
each other.

For that the WebSocket of each Engine.IO connection is kept on it (``install``), and WebSocket
compression is declined (``uncompressed_websockets``): each compressed connection would need
the frame compressed for it alone, and keeps a zlib context of some 300 KiB, which a thousand
TVs receiving 200-byte messages do not need.
"""

import struct

from queue_app import socketio

NAMESPACE = "/"
# Connections written to between two chances for the server's other tasks to run (some
# 0.5-1 ms of writes on the benchmark's machine).
CHUNK = 64
# Whether this process writes straight to WebSockets: an eventlet server (``install``); the
# threading server's and the test client's connections go through Socket.IO's emit.
direct = False


def install():
    """Keep each Engine.IO connection's WebSocket on it while it is open, and write to them
    straight from now on (eventlet's server only; idempotent)."""
    from engineio import socket as engineio_socket  # type: ignore[import-untyped]

    global direct
    direct = True
    uncompressed_websockets()
    handler = engineio_socket.Socket._websocket_handler
    if getattr(handler, "keeps_websocket", False):
        return

    def keeping(self, ws):
        self.torn_ws = ws
        try:
            return handler(self, ws)
        finally:
            self.torn_ws = None

    keeping.keeps_websocket = True
    engineio_socket.Socket._websocket_handler = keeping


def uncompressed_websockets():
    """Decline the permessage-deflate extension browsers offer (see the module's docstring)."""
    import eventlet.websocket as websocket

    websocket.WebSocketWSGI._negotiate_permessage_deflate = lambda self, extensions: None


def text_frame(text):
    """An unmasked, final WebSocket text frame (what a server sends) carrying ``text``."""
    data = text.encode()
    length = len(data)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + data


def _reserve(connection):
    """The WebSocket ``connection`` writes on, its send lock now held by the caller, when
    nothing else is writing there or waiting to; else None. While it is held, the
    connection's own writer (a ping, a packet queued later) waits for ``_write``."""
    ws = getattr(connection, "torn_ws", None)
    if (
        ws is None
        or connection.closed
        or connection.upgrading
        or not connection.upgraded
        or not connection.queue.empty()  # its writer has frames to send first
        or ws._sendlock.locked()  # its writer is sending one
        or getattr(ws, "extensions", None)  # compressed (uncompressed_websockets declined)
    ):
        return None
    ws._sendlock.acquire()  # free, as just seen: no wait
    return ws


def _write(ws, frame):
    """Write ``frame`` on a WebSocket reserved by ``_reserve`` without waiting, and release
    it; a part the socket cannot take now is written by a task of its own, which releases
    it once done, so that nothing is written in between."""
    try:
        sent = ws.socket.fd.send(frame)
    except BlockingIOError:
        sent = 0
    except OSError:
        sent = len(frame)  # the connection is gone: its reader will see it and close it
    if sent < len(frame):
        import eventlet

        eventlet.spawn_n(_finish, ws, frame[sent:])
    else:
        ws._sendlock.release()


def _finish(ws, rest):
    try:
        ws.socket.sendall(rest)
    except OSError:
        pass
    finally:
        ws._sendlock.release()


class Batch:
    """What several events send to this process's connections: one write per connection,
    its frames in the events' order, written in the order the connections were first sent
    to (``flush``); a call's screens come first, as its route lists them first."""

    def __init__(self):
        self.frames = {}  # Engine.IO connection -> (its WebSocket, [frames])
        self.queued = 0  # packets left to connections' writers instead

    def emit(self, event, payload, room):
        """Send ``event`` with ``payload`` to every connection of this process in ``room``."""
        server = socketio.server
        if not direct:
            socketio.emit(event, payload, to=room)
            return
        participants = list(server.manager.get_participants(NAMESPACE, room))
        if not participants:
            return
        from socketio import packet

        encoded = server.packet_class(
            packet.EVENT, namespace=NAMESPACE, data=[event, payload]
        ).encode()
        if not isinstance(encoded, str):  # binary attachments: Socket.IO's own way
            socketio.emit(event, payload, to=room)
            self.queued += len(participants)
            return
        frame = text_frame("4" + encoded)  # an Engine.IO message carrying the packet
        sockets = server.eio.sockets
        for sid, eio_sid in participants:
            connection = sockets.get(eio_sid)
            if connection is None:
                continue
            gathered = self.frames.get(connection)
            if gathered is not None:
                gathered[1].append(frame)
                continue
            ws = _reserve(connection) if connection.check_ping_timeout() else None
            if ws is not None:
                self.frames[connection] = (ws, [frame])
            else:
                # Through its queue; and so its later frames too, as its queue is not empty.
                socketio.emit(event, payload, to=sid)
                self.queued += 1

    def flush(self):
        """Write what was gathered: once per connection, without waiting for any; letting the
        server's other tasks run every ``CHUNK`` connections, so that a request that comes
        meanwhile (the clerk's next call) is not kept waiting for a thousand screens."""
        gathered, self.frames = self.frames, {}
        for n, (ws, frames) in enumerate(gathered.values(), start=1):
            _write(ws, frames[0] if len(frames) == 1 else b"".join(frames))
            if n % CHUNK == 0:
                socketio.sleep(0)
