"""A replay server for the end-to-end benchmarks: pre-built replies, as fast as a socket.

The stand-in server (:mod:`purai_transports.server`) writes each chunk as it is due,
through anyio, h11 and the encoder: far slower than the clients it would be measuring.
This server does no work per chunk. Every reply is built once from the corpus and
each request is answered by pushing those bytes out of a non-blocking socket, so the
client is what the benchmark measures.

Replies, chunked transfer coding with ONE HTTP chunk per JSON object (as PurAI and the
stand-in server send them), keep-alive:

* ``POST /v1/chat/completions``: the objects as server-sent events (``data: {...}``
  and a blank line, then ``data: [DONE]``), ``text/event-stream``, for OpenAI's client.
* ``POST`` anything else: the objects back to back, ``application/json`` (PurAI).

The query string says how much: ``?objects=N`` the first ``N`` objects of the corpus
(the default: all of them), ``?cycles=K`` the whole corpus ``K`` times. A cycled reply
is produced on the fly, block by block, so a gigabyte-long stream costs the server the
memory of one corpus, not of a gigabyte. ``&every_ms=T`` paces a reply as a live model
would: the head with the first object, then one object every ``T`` milliseconds, each
in a send of its own (the concurrency suite's realistic pace).

One thread runs a ``selectors`` loop over every connection, so a thousand concurrent
streams need no thousand threads. It runs in a process of its own by default
(:func:`start`): on a 2-core machine the client then has a core to itself, while a
thread in the client's process would share the client's GIL (``--server thread``
exists to measure exactly that difference).
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import multiprocessing.connection
import os
import selectors
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from ._common import raise_nofile_limit

__all__ = [
    "ReplayServer",
    "chunked",
    "count_chunks_request",
    "purai_reply",
    "sse_events",
    "sse_reply",
    "start",
]

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024
_SEND_SIZE = 1024 * 1024  # bytes handed to one send(): the kernel takes what fits
_DONE_EVENT = b"data: [DONE]\n\n"
_LAST_CHUNK = b"0\r\n\r\n"


def _head(content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Cache-Control: no-cache\r\n"
        b"\r\n"
    )


PURAI_HEAD = _head(b"application/json")
SSE_HEAD = _head(b"text/event-stream; charset=utf-8")
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def chunked(pieces: Sequence[bytes]) -> bytes:
    """``pieces`` in chunked transfer coding, one HTTP chunk each, without the last chunk."""
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces)


def sse_events(objects: Sequence[bytes]) -> list[bytes]:
    """The objects as server-sent events, ``data: [DONE]`` last, as OpenAI streams them."""
    return [b"data: " + obj + b"\n\n" for obj in objects] + [_DONE_EVENT]


def purai_reply(objects: Sequence[bytes]) -> bytes:
    """The whole HTTP reply that streams ``objects`` back to back (PurAI's format)."""
    return PURAI_HEAD + chunked(objects) + _LAST_CHUNK


def sse_reply(objects: Sequence[bytes]) -> bytes:
    """The whole HTTP reply that streams ``objects`` as server-sent events."""
    return SSE_HEAD + chunked(sse_events(objects)) + _LAST_CHUNK


def count_chunks_request(path: str) -> bytes:
    """A minimal request for ``path``, for clients that write their own (the floor)."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: 2\r\n"
        "Content-Type: application/json\r\n\r\n{}"
    ).encode()


class _Replies:
    """The replies, built from the corpus on first use and kept."""

    def __init__(self, objects: Sequence[bytes]) -> None:
        self._objects = list(objects)
        self._cache: dict[tuple[bool, int], bytes] = {}
        self._cycle: dict[bool, bytes] = {}

    def reply(self, target: bytes) -> tuple[Iterator[bytes | memoryview], float]:
        """The blocks of the reply to a request for ``target``, and the seconds to wait
        between two of them (0: send them as fast as the socket takes them)."""
        parts = urlsplit(target.decode("latin-1"))
        query = parse_qs(parts.query)
        sse = parts.path.rstrip("/").endswith("/v1/chat/completions")
        if "cycles" in query:
            return self._cycled(sse, int(query["cycles"][0])), 0.0
        n = int(query["objects"][0]) if "objects" in query else len(self._objects)
        if "every_ms" in query:
            return self._paced(sse, n), float(query["every_ms"][0]) / 1000
        key = (sse, n)
        data = self._cache.get(key)
        if data is None:
            objects = self._objects[:n]
            data = sse_reply(objects) if sse else purai_reply(objects)
            self._cache[key] = data
        return iter((memoryview(data),)), 0.0

    def _paced(self, sse: bool, n: int) -> Iterator[bytes | memoryview]:
        """One block per object (the head goes with the first), the end with the last."""
        objects = self._objects[:n]
        pieces = sse_events(objects) if sse else objects
        blocks = [chunked([p]) for p in pieces]
        blocks[0] = (SSE_HEAD if sse else PURAI_HEAD) + blocks[0]
        blocks[-1] += _LAST_CHUNK
        return iter(blocks)

    def _cycled(self, sse: bool, cycles: int) -> Iterator[bytes | memoryview]:
        block = self._cycle.get(sse)
        if block is None:
            pieces = [b"data: " + o + b"\n\n" for o in self._objects] if sse else self._objects
            block = self._cycle[sse] = chunked(pieces)
        yield SSE_HEAD if sse else PURAI_HEAD
        view = memoryview(block)
        for _ in range(cycles):
            yield view
        yield (chunked([_DONE_EVENT]) if sse else b"") + _LAST_CHUNK


@dataclass
class _Connection:
    sock: socket.socket
    inbuf: bytearray = field(default_factory=bytearray)
    blocks: Iterator[bytes | memoryview] | None = None
    out: memoryview | None = None
    close_after: bool = False
    interval: float = 0.0  # between two blocks of a paced reply
    pending: bytes | memoryview | None = None  # a paced reply's next block, when due


class _Loop:
    """The selectors loop: accept, read requests, write replies, until told to stop."""

    def __init__(self, listener: socket.socket, replies: _Replies, stop_fd: int) -> None:
        self._listener = listener
        self._replies = replies
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(stop_fd, selectors.EVENT_READ, "stop")
        # Paced replies waiting for their next block: (when, sequence, connection).
        self._due: list[tuple[float, int, _Connection]] = []
        self._sequence = 0

    def run(self) -> None:
        select = self._selector.select
        due = self._due
        while True:
            timeout = max(due[0][0] - time.monotonic(), 0.0) if due else None
            events = select(timeout)
            now = time.monotonic()
            while due and due[0][0] <= now:
                self._write_due(heapq.heappop(due)[2])
            for key, mask in events:
                data = key.data
                if data is None:
                    self._accept()
                elif data == "stop":
                    self._close_all()
                    return
                else:
                    assert isinstance(data, _Connection)
                    if mask & selectors.EVENT_READ:
                        self._read(data)
                    if mask & selectors.EVENT_WRITE and data.blocks is not None:
                        self._write(data)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._selector.register(sock, selectors.EVENT_READ, _Connection(sock))

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.inbuf += data
        if conn.blocks is None:
            self._next_request(conn)

    def _next_request(self, conn: _Connection) -> None:
        """Start the reply to the request at the front of the buffer, if it is whole."""
        buf = conn.inbuf
        end = buf.find(_HEAD_END)
        if end < 0:
            if len(buf) > _MAX_HEAD:
                self._reply_once(conn, _BAD_REQUEST, close=True)
            return
        lines = bytes(buf[:end]).split(b"\r\n")
        try:
            method, target, _ = lines[0].split(b" ", 2)
        except ValueError:
            self._reply_once(conn, _BAD_REQUEST, close=True)
            return
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(buf) < end + 4 + length:
            return  # the body is still on its way
        del buf[: end + 4 + length]
        if method != b"POST":
            self._reply_once(conn, _NOT_FOUND)
            return
        try:
            conn.blocks, conn.interval = self._replies.reply(target)
        except (ValueError, KeyError):
            self._reply_once(conn, _BAD_REQUEST, close=True)
            return
        self._selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def _reply_once(self, conn: _Connection, data: bytes, *, close: bool = False) -> None:
        conn.blocks = iter((memoryview(data),))
        conn.interval = 0.0
        conn.close_after = close
        self._selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def _write(self, conn: _Connection) -> None:
        assert conn.blocks is not None
        send = conn.sock.send
        while True:
            out = conn.out
            if out is None or not out:
                block, conn.pending = conn.pending or next(conn.blocks, None), None
                if block is None:
                    self._reply_done(conn)
                    return
                if out is not None and conn.interval:
                    self._pause(conn, block)
                    return
                out = conn.out = memoryview(block)
            try:
                sent = send(out[:_SEND_SIZE])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(conn)
                return
            conn.out = out[sent:]
            if sent < min(len(out), _SEND_SIZE):
                return  # the socket's buffer is full: wait until it is writable again

    def _pause(self, conn: _Connection, block: bytes | memoryview) -> None:
        """A paced reply sent a block: ``block``, its next, is due after its interval.

        Taken from the reply before the wait, so that the end of the reply is known
        when its last block is sent: the next request on the connection needs no wait.
        """
        conn.out = None
        conn.pending = block
        self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
        self._sequence += 1
        heapq.heappush(self._due, (time.monotonic() + conn.interval, self._sequence, conn))

    def _write_due(self, conn: _Connection) -> None:
        """The next block of a paced reply is due: send it (a small one fits at once)."""
        if conn.blocks is None:
            return  # the connection was dropped while it waited
        self._selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
        self._write(conn)

    def _reply_done(self, conn: _Connection) -> None:
        conn.blocks = None
        conn.out = None
        if conn.close_after:
            self._drop(conn)
            return
        self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
        self._next_request(conn)  # a request that came while this reply was sent

    def _drop(self, conn: _Connection) -> None:
        conn.blocks = None
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def _close_all(self) -> None:
        for key in list(self._selector.get_map().values()):
            if isinstance(key.data, _Connection):
                self._drop(key.data)
        self._selector.close()
        self._listener.close()


def _listen() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)  # a thousand clients connect at once in the concurrency suite
    listener.setblocking(False)
    return listener


def _serve_in_process(
    objects: Sequence[bytes], report: multiprocessing.connection.Connection
) -> None:
    """The server process: listen, tell the parent the port, serve until it says stop."""
    raise_nofile_limit()
    listener = _listen()
    report.send(listener.getsockname()[1])
    # The parent sends anything (or dies) to stop us: the pipe becomes readable.
    _Loop(listener, _Replies(objects), report.fileno()).run()


class ReplayServer:
    """A running replay server; a context manager that stops it.

    Args:
        objects: The corpus: the JSON objects every reply is made of.
        mode: ``"process"`` (a process of its own, the default) or ``"thread"`` (a
            thread in this process, sharing its GIL).
    """

    def __init__(self, objects: Sequence[bytes], mode: str = "process") -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}")
        self.mode = mode
        self.port = 0
        self._objects = objects
        self._process: multiprocessing.process.BaseProcess | None = None
        self._parent_end: multiprocessing.connection.Connection | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ReplayServer:
        if self.mode == "process":
            # spawn, not fork: the child must not inherit an event loop or threads.
            context = multiprocessing.get_context("spawn")
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_serve_in_process, args=(self._objects, child_end), daemon=True
            )
            process.start()
            child_end.close()
            if not parent_end.poll(60):
                process.kill()
                raise RuntimeError("the replay server did not start within 60 s")
            self.port = parent_end.recv()
            self._process, self._parent_end = process, parent_end
        else:
            listener = _listen()
            self.port = listener.getsockname()[1]
            self._wake = socket.socketpair()
            loop = _Loop(listener, _Replies(self._objects), self._wake[1].fileno())
            self._thread = threading.Thread(target=loop.run, name="replay", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._parent_end is not None:
            with contextlib.suppress(OSError):
                self._parent_end.send(None)
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._parent_end.close()
            self._process = None
        if self._thread is not None and self._wake is not None:
            self._wake[0].send(b"x")
            self._thread.join(10)
            for sock in self._wake:
                sock.close()
            self._thread = None


def start(objects: Sequence[bytes], mode: str = "process") -> ReplayServer:
    """A replay server for ``objects``, not yet started: use it in a ``with`` block."""
    return ReplayServer(objects, mode)


if __name__ == "__main__":  # pragma: no cover - a manual check: serve until Ctrl-C
    from purai_transports.bench.corpus import realistic

    with ReplayServer(realistic(2_000)) as server:
        print(f"replay server at {server.url} (pid {os.getpid()} is the parent)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
