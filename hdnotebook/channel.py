"""The metrics channel: how trials, wherever they run, reach the notebook that drives them.

The driver (the notebook kernel) listens on a TCP socket; every trial process connects with an
HMAC challenge on a random per-experiment key (``multiprocessing.connection``'s ``authkey``), so
only processes that were handed the key can talk to it. No shared filesystem is needed: a trial on
a Dask worker sends its metrics over the same channel as a local one.

Messages (each gets one reply):

- ``("log", run_id, rows, sync)`` -> ``("ok", stop)``: metric rows ``(name, step, value, text,
  time)``; ``stop`` is ``None`` or the reason string when the run must stop.
- ``("next", lane_id, outcome, info)`` -> ``("ok", spec)``: a lane reports how its last trial
  ended (``outcome``, ``None`` at its start) and gets the next trial's ``TrialSpec``, or ``None``
  when there is no more work for it; ``info`` says where the lane runs (pid, host, its trial
  host's pid).
- ``("poll", run_id, info)`` -> ``("ok", stop)``: the lane's heartbeat while a trial runs;
  ``info`` carries the pid of a newly started trial process.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

__all__ = ["ChannelServer", "ChannelClient", "ChannelAddress"]


def _no_delay(conn: Connection) -> Connection:
    """Send small messages at once (no Nagle wait): each request waits for its reply."""
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    finally:
        sock.close()
    return conn

ChannelAddress = tuple[str, int]
Handler = Callable[[tuple[Any, ...]], Any]


class ChannelServer:
    """Accepts authenticated trial connections and hands each message to ``handler``.

    Args:
        handler: called with each message tuple from a connection's own thread; its return value
            is sent back as the reply.
        host: where to listen; ``127.0.0.1`` unless workers on other machines must reach it.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.authkey = secrets.token_bytes(32)
        self._handler = handler
        self._listener = Listener((host, 0), family="AF_INET", authkey=self.authkey)
        self.address: ChannelAddress = self._listener.address  # type: ignore[assignment]
        self._closed = threading.Event()
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="hdnotebook-channel", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn = self._listener.accept()
            except (OSError, EOFError):
                if self._closed.is_set():
                    return
                continue  # a peer that failed authentication or hung up during the handshake
            except Exception:  # AuthenticationError and friends: refuse, keep serving
                continue
            _no_delay(conn)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="hdnotebook-channel-conn", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        try:
            while not self._closed.is_set():
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    return
                try:
                    reply = self._handler(message)
                except Exception as exc:  # a bad message must not kill the channel
                    reply = ("error", repr(exc))
                try:
                    conn.send(reply)
                except OSError:
                    return
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self._closed.set()
        try:
            # unblock accept()
            with socket.create_connection(self.address, timeout=1):
                pass
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.close()
                except OSError:
                    pass
            self._connections.clear()


class ChannelClient:
    """A trial-side connection to the driver, opened lazily and safe to share between threads.

    A client must not cross a ``fork``: the process that made it keeps it (see :meth:`for_this_process`).
    """

    def __init__(self, address: ChannelAddress, authkey: bytes) -> None:
        self.address = (str(address[0]), int(address[1]))
        self.authkey = authkey
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def request(self, message: tuple[Any, ...]) -> Any:
        """Send one message and return the driver's reply; raises ``ConnectionError`` when gone."""
        with self._lock:
            if self._pid != os.getpid():  # forked: never share the parent's socket
                self._conn, self._pid = None, os.getpid()
            try:
                if self._conn is None:
                    self._conn = _no_delay(Client(self.address, family="AF_INET", authkey=self.authkey))
                self._conn.send(message)
                return self._conn.recv()
            except (OSError, EOFError) as exc:
                self._drop()
                raise ConnectionError(f"lost the hdnotebook driver at {self.address}: {exc!r}") from exc

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()
