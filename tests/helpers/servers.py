"""Purpose-built loopback servers for the transport tests.

The stand-in server (:mod:`purai_transports.server`) answers like a well-behaved
PurAI. The server here answers however a test scripts it, byte for byte, which is how
the tests produce what a good server never sends: bodies cut anywhere, resets, stalls,
bad framing, a TLS peer that never finishes its handshake.

A test writes the script with :mod:`tests.helpers.scripted_replies`.
:class:`ScriptedServer` is plain blocking code in threads (one to accept, one per
connection), so that it runs the same under every client flavour, and it counts what
it saw (connections, requests, clients that went away) for the tests to check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Literal

import trustme

from .scripted_replies import CLOSE, HALF_CLOSE, HANG, RAGGED, RESET, Pause, Reply

__all__ = [
    "Mode",
    "ScriptedServer",
    "Seen",
    "closed_port",
    "server_context",
    "unanswered_port",
]

# How long the server's polling loops sleep between looks at the stop flag: short, so
# that stopping the server never holds a test up.
_POLL = 0.01
# The longest a send or a TLS handshake may take: the clients read everything they are
# sent, so this only bounds a test that went wrong.
_IO_LIMIT = 5.0

Mode = Literal["script", "silent", "deaf", "hang-up", "bad-request"]


@dataclasses.dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    connection: int  # the index of its connection, in the order they were accepted
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes


# --- the server ----------------------------------------------------------------------


class ScriptedServer:
    """A loopback HTTP server that sends scripted bytes, in threads.

    Each request gets the next of ``replies`` (the last one repeats), whatever
    connection it came on. Use it as a context manager; leaving stops the server and
    closes every connection it holds.

    Args:
        replies: What to send, request by request.
        ssl_context: Serve TLS with this server context.
        mode: What to do with a connection: ``"script"``, answer its requests with
            ``replies``; ``"silent"``, never answer, not even with a TLS handshake,
            and hold it until its client leaves; ``"deaf"``, never read from it
            (whose receive buffer is small), so that a client sending to it soon
            blocks, and hold it until the server stops; ``"hang-up"``, close it at
            once, before any TLS handshake; ``"bad-request"``, answer its first bytes
            with a plain ``400 Bad Request`` and close it, as an HTTP server does to
            a TLS handshake.

    Attributes:
        seen: The requests received, in order.
    """

    def __init__(
        self,
        *replies: Reply,
        ssl_context: ssl.SSLContext | None = None,
        mode: Mode = "script",
    ) -> None:
        if not replies and mode == "script":
            raise ValueError("a scripted server needs at least one reply")
        self._replies = list(replies)
        self._ssl_context = ssl_context
        self._mode = mode
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._left: list[threading.Event] = []  # per connection: its client went away
        self._listener: socket.socket | None = None
        self.seen: list[Seen] = []

    # -- what tests look at ---------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._listener is not None, "the server is not running"
        return int(self._listener.getsockname()[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """How many connections were accepted."""
        with self._lock:
            return len(self._left)

    def client_left(self, connection: int, timeout: float = _IO_LIMIT) -> bool:
        """Wait until the client of ``connection`` closed (or reset) it; False if it
        is still open after ``timeout`` seconds."""
        with self._lock:
            left = self._left[connection]
        return left.wait(timeout)

    # -- running --------------------------------------------------------------------

    def __enter__(self) -> ScriptedServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self._mode == "deaf":
            # Set before listening, so that accepted connections inherit it and their
            # receive window never grows past it.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(_POLL)
        self._listener = listener
        self._start(self._accept_loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        # The accept loop starts connection threads, so join it first; each thread
        # closes its own socket when it sees the stop flag.
        while self._threads:
            with self._lock:
                thread = self._threads.pop(0)
            thread.join()
        if self._listener is not None:
            self._listener.close()

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                index = len(self._left)
                self._left.append(threading.Event())
            self._start(self._serve, sock, index)

    def _serve(self, sock: socket.socket, index: int) -> None:
        # Replies are small: each byte a test sends must leave at once, not wait for
        # an ACK of the previous one (the trickle test relies on it).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self._mode == "deaf":
                self._stopping.wait()
                return
            if self._mode == "silent":
                self._hang(sock, index)
                return
            if self._mode == "hang-up":
                return
            if self._mode == "bad-request":
                sock.settimeout(_IO_LIMIT)
                sock.recv(65536)
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                self._close(sock)
                return
            if self._ssl_context is not None:
                sock.settimeout(_IO_LIMIT)
                sock = self._ssl_context.wrap_socket(sock, server_side=True)
            reader = _RequestReader(sock, self._stopping)
            while True:
                with self._lock:
                    number = len(self.seen)
                    reply = self._replies[min(number, len(self._replies) - 1)]
                request = reader.next_request(index, read_body=reply.read_body)
                if request is None:  # EOF, or the server is stopping
                    if not self._stopping.is_set():
                        self._left[index].set()
                    return
                with self._lock:
                    self.seen.append(request)
                if not self._send(sock, reply, index):
                    return
                if not reply.keep_alive:
                    self._close(sock)
                    return
        except OSError:
            # The client went away (or failed the TLS handshake): a fault some tests
            # cause on purpose. Either way the connection is over.
            self._left[index].set()
        finally:
            sock.close()

    def _send(self, sock: socket.socket, reply: Reply, index: int) -> bool:
        """Perform the steps; False when one of them ended the connection."""
        sock.settimeout(_IO_LIMIT)
        for step in reply.steps:
            if isinstance(step, bytes):
                sock.sendall(step)
            elif isinstance(step, Pause):
                self._stopping.wait(step.seconds)
            elif step is CLOSE:
                self._close(sock)
                return False
            elif step is RAGGED:
                return False  # the caller's close() sends no close_notify
            elif step is RESET:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return False
            elif step is HANG:
                self._hang(sock, index)
                return False
            elif step is HALF_CLOSE:
                socket.socket.shutdown(sock, socket.SHUT_WR)  # under TLS too: no goodbye
        return True

    def _close(self, sock: socket.socket) -> None:
        """Close as a well-behaved server does: over TLS, say goodbye first."""
        if isinstance(sock, ssl.SSLSocket):
            try:
                # unwrap() sends close_notify, then waits for the client's: a client
                # whose connection sits in its pool sends none, so do not wait long.
                sock.settimeout(_POLL)
                sock.unwrap()
            except (OSError, ValueError):
                pass  # the client went away, or said no goodbye in time

    def _hang(self, sock: socket.socket, index: int) -> None:
        """Hold the connection, dropping what arrives, until the client leaves."""
        sock.settimeout(_POLL)
        while not self._stopping.is_set():
            try:
                if not sock.recv(65536):
                    break
            except TimeoutError:
                continue
            except OSError:  # a reset, or TLS that breaks off
                break
        if not self._stopping.is_set():
            self._left[index].set()


class _RequestReader:
    """Reads requests (head, then a ``Content-Length`` body) from one connection."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self._sock = sock
        self._stopping = stopping
        self._buffer = bytearray()

    def _fill(self) -> bool:
        """Read more; False at EOF or when the server stops."""
        self._sock.settimeout(_POLL)
        while not self._stopping.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            self._buffer += data
            return bool(data)
        return False

    def next_request(self, connection: int, *, read_body: bool = True) -> Seen | None:
        """The next request (with an empty body unless ``read_body``); None when the
        client closed the connection, or the server is stopping."""
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill():
                return None
        end = self._buffer.index(b"\r\n\r\n")
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        request_line, *lines = head.split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0")) if read_body else 0
        while len(self._buffer) < length:
            if not self._fill():
                return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return Seen(connection, method, target, headers, body)


def closed_port() -> int:
    """A loopback port on which nothing listens: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """A TLS context for a loopback server that presents ``cert``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port on which connecting never completes.

    Its listener's accept queue is full and nobody accepts, and Linux drops a SYN to a
    full queue: a client's connection attempt waits, as for an unreachable host,
    until its own time limit.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # room for one connection, which the next line takes
        with socket.create_connection(listener.getsockname()):
            yield int(listener.getsockname()[1])
