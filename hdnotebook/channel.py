"""The metrics channel: how trials, wherever they run, reach the notebook that drives them.

The driver (the notebook kernel) listens on a TCP socket; a trial process connects and proves it
holds a key (a mutual HMAC challenge), so only processes that were handed a key can talk to it. No
shared filesystem is needed: a trial on a Dask worker sends its metrics over the same channel as a
local one.

Two kinds of key:

- the experiment's key (random, 32 bytes): lanes (joblib tasks the engine started) use it;
- a trial's own key, :func:`trial_key` of the experiment key and the run id: what a script trial
  is handed (``HDNOTEBOOK_KEY``). A connection made with it may only send ``log`` and ``poll`` for
  that run, so a script, or a process it starts, that leaks its key exposes only its own run.

Frames are length-prefixed msgpack **data**, never pickle: a peer with a key can send values, not
code. Registered dataclasses (``TrialSpec``, ``TrialOutcome``) travel as their fields. The one
exception goes the other way: the driver may send a trial's parameters pickled (a ``choice`` of
tuples or objects must reach the function as it was given), and only the trial side accepts those.

Messages (each gets one reply):

- ``("log", run_id, rows, sync)`` -> ``("ok", stop)`` once the rows are committed to the store,
  or ``("error", why)``: metric rows ``(name, step, kind, value, text, time)``, a list or the
  JSON text of one (what SQLite inserts by itself: :func:`hdnotebook.store.metric_rows_json`);
  ``stop`` is ``None`` or the reason string when the run must stop.
- ``("next", lane_id, outcome, info)`` -> ``("ok", spec)``: a lane reports how its last trial
  ended (``outcome``, ``None`` at its start) and gets the next trial's ``TrialSpec``, or ``None``
  when there is no more work for it; ``info`` says where the lane runs (pid, host, its trial
  host's pid).
- ``("poll", run_id, info)`` -> ``("ok", stop)``: the lane's heartbeat while a trial runs;
  ``info`` carries the pid of a newly started trial process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import pickle
import secrets
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import msgpack

__all__ = ["ChannelServer", "ChannelClient", "ChannelAddress", "ChannelError", "trial_key", "register_message"]

ChannelAddress = tuple[str, int]
Handler = Callable[[tuple[Any, ...]], Any]

#: seconds a new connection has to complete the handshake (an idle one is dropped after it)
HANDSHAKE_SECONDS = 10.0
#: seconds a client waits to connect
CONNECT_SECONDS = 10.0
#: seconds a client waits for a reply (the driver holds a ``log`` reply until the store commits)
REPLY_SECONDS = 300.0
#: the largest frame accepted, in bytes
MAX_FRAME = 64 * 2**20
#: how many connections may wait to be accepted
BACKLOG = 512

_PROTOCOL = 1
_HEADER = struct.Struct(">I")
_EXT_MESSAGE, _EXT_BIG_INT, _EXT_PICKLE = 1, 2, 3
#: what a connection made with a trial's own key may send
_TRIAL_MESSAGES = frozenset({"log", "poll"})


class ChannelError(ConnectionError):
    """The peer broke the protocol (bad frame, failed handshake, a message it may not send)."""


def trial_key(key: bytes, run_id: str) -> bytes:
    """The key of one trial: lets its holder ``log`` and ``poll`` for ``run_id`` only.

    >>> trial_key(bytes(32), "HD_1_0").hex()[:16]
    '89c32f07ae370c3d'
    """
    return hmac.new(key, b"trial:" + run_id.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


# ---------------------------------------------------------------------------------------------
# the data format
# ---------------------------------------------------------------------------------------------
_MESSAGES: dict[str, tuple[type, frozenset[str]]] = {}
#: registered class -> (its name on the wire, its opaque fields, every field's name)
_MESSAGE_TYPES: dict[type, tuple[str, frozenset[str], tuple[str, ...]]] = {}


def register_message(cls: type, opaque: tuple[str, ...] = ()) -> type:
    """Let dataclass ``cls`` travel as its fields; ``opaque`` fields go pickled from the driver
    to the trial (and are refused the other way)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"register_message: {cls!r} is not a dataclass")
    _MESSAGES[cls.__name__] = (cls, frozenset(opaque))
    _MESSAGE_TYPES[cls] = (cls.__name__, frozenset(opaque), tuple(f.name for f in dataclasses.fields(cls)))
    return cls


class _Codec:
    """msgpack with registered dataclasses, ints of any size and (one way only) pickled values."""

    def __init__(self, send_pickle: bool, accept_pickle: bool) -> None:
        self.send_pickle, self.accept_pickle = send_pickle, accept_pickle

    def encode(self, message: Any) -> bytes:
        return msgpack.packb(message, use_bin_type=True, default=self._default, unicode_errors="surrogatepass")

    def decode(self, data: bytes) -> Any:
        return msgpack.unpackb(
            data, raw=False, use_list=True, ext_hook=self._ext, strict_map_key=False, unicode_errors="surrogatepass"
        )

    def _default(self, obj: Any) -> Any:
        message = _MESSAGE_TYPES.get(type(obj))
        if message is not None:
            name, opaque, names = message
            fields = {field: getattr(obj, field) for field in names}
            if self.send_pickle:
                for field in opaque:
                    fields[field] = msgpack.ExtType(_EXT_PICKLE, pickle.dumps(fields[field]))
            return msgpack.ExtType(_EXT_MESSAGE, self.encode([name, fields]))
        if isinstance(obj, int):
            return msgpack.ExtType(_EXT_BIG_INT, str(obj).encode())
        if hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():  # numpy scalars
            return obj.item()
        if isinstance(obj, (set, frozenset)):
            return list(obj)
        raise TypeError(f"the hdnotebook channel cannot send a {type(obj).__qualname__} ({obj!r:.80})")

    def _ext(self, code: int, data: bytes) -> Any:
        if code == _EXT_BIG_INT:
            return int(data.decode())
        if code == _EXT_MESSAGE:
            name, fields = self.decode(data)
            if name not in _MESSAGES:
                raise ChannelError(f"unknown message type {name!r}")
            return _MESSAGES[name][0](**fields)
        if code == _EXT_PICKLE and self.accept_pickle:
            return pickle.loads(data)
        raise ChannelError(f"refused a value of extension type {code}")


_SERVER_CODEC = _Codec(send_pickle=True, accept_pickle=False)
_CLIENT_CODEC = _Codec(send_pickle=False, accept_pickle=True)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket) -> bytes:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise ChannelError(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
    return _recv_exact(sock, size)


def _proof(key: bytes, role: bytes, first: bytes, second: bytes) -> bytes:
    return hmac.new(key, role + first + second, hashlib.sha256).digest()


# ---------------------------------------------------------------------------------------------
# the driver's side
# ---------------------------------------------------------------------------------------------
class ChannelServer:
    """Accepts authenticated trial connections and hands each message to ``handler``.

    Each connection gets its own thread at once (the handshake runs there, with a timeout), so a
    slow or idle peer never holds up the others.

    Args:
        handler: called with each message tuple from a connection's own thread; its return value
            is sent back as the reply.
        host: where to listen; ``127.0.0.1`` unless workers on other machines must reach it.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.authkey = secrets.token_bytes(32)
        self._handler = handler
        self._sock = socket.create_server((host, 0), backlog=BACKLOG)
        self.address: ChannelAddress = (host, self._sock.getsockname()[1])
        self._closed = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="hdnotebook-channel", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closed.is_set():
                    return
                continue
            with self._lock:
                if self._closed.is_set():
                    conn.close()
                    return
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="hdnotebook-channel-conn", daemon=True).start()

    def _handshake(self, conn: socket.socket) -> str | None:
        """Mutual proof of the key; returns the run a trial's key is limited to (``None``: a lane)."""
        conn.settimeout(HANDSHAKE_SECONDS)
        hello = _SERVER_CODEC.decode(_recv(conn))
        if not isinstance(hello, dict) or hello.get("v") != _PROTOCOL or not isinstance(hello.get("nonce"), bytes):
            raise ChannelError("not an hdnotebook channel handshake")
        scope = hello.get("run")
        if scope is not None and not isinstance(scope, str):
            raise ChannelError("bad run in the handshake")
        key = self.authkey if scope is None else trial_key(self.authkey, scope)
        nonce = secrets.token_bytes(32)
        _send(conn, _SERVER_CODEC.encode({"nonce": nonce, "proof": _proof(key, b"driver", hello["nonce"], nonce)}))
        answer = _SERVER_CODEC.decode(_recv(conn))
        expected = _proof(key, b"trial", nonce, hello["nonce"])
        if not isinstance(answer, dict) or not hmac.compare_digest(answer.get("proof") or b"", expected):
            raise ChannelError("the peer does not hold the key")
        _send(conn, _SERVER_CODEC.encode({"ok": True}))
        conn.settimeout(None)
        return scope

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            scope = self._handshake(conn)
            while not self._closed.is_set():
                message = tuple(_SERVER_CODEC.decode(_recv(conn)))
                if scope is not None and (message[0] not in _TRIAL_MESSAGES or message[1] != scope):
                    reply: Any = ("error", f"a trial's key allows only log and poll of its own run {scope}")
                else:
                    try:
                        reply = self._handler(message)
                    except Exception as exc:  # a bad message must not kill the channel
                        reply = ("error", f"{type(exc).__name__}: {exc}")
                _send(conn, _SERVER_CODEC.encode(reply))
        except (OSError, EOFError, ChannelError, ValueError, TypeError, msgpack.UnpackException):
            pass  # a peer that hung up, timed out in the handshake, or broke the protocol: drop it
        finally:
            with self._lock:
                self._connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self._closed.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# the trial's side
# ---------------------------------------------------------------------------------------------
class ChannelClient:
    """A trial-side connection to the driver, opened lazily and safe to share between threads.

    ``run_id``: with a trial's own key (:func:`trial_key`), the run it is limited to. A client
    never shares its socket across a ``fork``: a child process opens its own.
    """

    def __init__(self, address: ChannelAddress, authkey: bytes, run_id: str | None = None,
                 reply_seconds: float = REPLY_SECONDS) -> None:
        self.address = (str(address[0]), int(address[1]))
        self.authkey = authkey
        self.run_id = run_id
        self.reply_seconds = reply_seconds
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=CONNECT_SECONDS)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(HANDSHAKE_SECONDS)
            nonce = secrets.token_bytes(32)
            _send(sock, _CLIENT_CODEC.encode({"v": _PROTOCOL, "run": self.run_id, "nonce": nonce}))
            challenge = _CLIENT_CODEC.decode(_recv(sock))
            theirs = challenge.get("nonce") if isinstance(challenge, dict) else None
            if not isinstance(theirs, bytes) or not hmac.compare_digest(
                challenge.get("proof") or b"", _proof(self.authkey, b"driver", nonce, theirs)
            ):
                raise ChannelError(f"{self.address} is not the hdnotebook driver holding this key")
            _send(sock, _CLIENT_CODEC.encode({"proof": _proof(self.authkey, b"trial", theirs, nonce)}))
            _CLIENT_CODEC.decode(_recv(sock))  # the driver closes instead when the proof is wrong
            sock.settimeout(self.reply_seconds)
            return sock
        except BaseException:
            sock.close()
            raise

    def request(self, message: tuple[Any, ...]) -> Any:
        """Send one message and return the driver's reply; raises ``ConnectionError`` when gone."""
        with self._lock:
            if self._pid != os.getpid():  # forked: never share the parent's socket
                self._sock, self._pid = None, os.getpid()
            try:
                if self._sock is None:
                    self._sock = self._connect()
                _send(self._sock, _CLIENT_CODEC.encode(message))
                return tuple(_CLIENT_CODEC.decode(_recv(self._sock)))
            except (OSError, EOFError, ChannelError, ValueError, msgpack.UnpackException) as exc:
                self._drop()
                raise ConnectionError(f"lost the hdnotebook driver at {self.address}: {exc!r}") from exc

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None

    def close(self) -> None:
        with self._lock:
            self._drop()
