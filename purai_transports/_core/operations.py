"""The I/O operations the client logic asks its runner to perform.

The client logic (:mod:`purai_transports._core.exchange`) is written once, as a generator
that yields these and is sent back their results; a runner performs them with a
backend: blocking sockets, anyio or trio. A runner also receives, besides operations,
the chunks it hands to the caller. Failures come back as the library's exceptions,
thrown into the generator, so the logic's ``try``/``except`` decides about retries.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .errors import TimeoutException
from .settings import Origin

__all__ = [
    "Close",
    "Connect",
    "Operation",
    "Poll",
    "Read",
    "Resolve",
    "Sleep",
    "StartTLS",
    "Write",
]


class Connect(NamedTuple):
    """Open a connection to ``origin``; the result is the backend's byte stream.

    ``on_timeout`` is raised when ``timeout`` runs out (``ConnectTimeout``, or
    ``TotalTimeout`` when what is left of the total was the nearer limit).
    """

    origin: Origin
    timeout: float | None
    on_timeout: type[TimeoutException]


class StartTLS(NamedTuple):
    """Start TLS with ``server_hostname`` on ``stream``, a tunnel through a proxy (TLS
    inside TLS when the proxy is an ``https://`` one); the result is the new stream.
    ``on_timeout`` as for :class:`Connect`."""

    stream: Any
    server_hostname: str
    timeout: float | None
    on_timeout: type[TimeoutException]


class Resolve(NamedTuple):
    """Look ``host`` up; the result is one of its IP addresses, as a str (for a
    ``socks5://`` proxy, which is given addresses, not names)."""

    host: str
    port: int
    timeout: float | None
    on_timeout: type[TimeoutException]


class Write(NamedTuple):
    """Send all of ``data`` on ``stream``; ``on_timeout`` as for :class:`Connect`."""

    stream: Any
    data: bytes
    timeout: float | None
    on_timeout: type[TimeoutException]


class Read(NamedTuple):
    """Receive some bytes from ``stream``; ``b""`` at EOF.

    ``on_timeout`` is the exception to raise when ``timeout`` runs out: the logic
    knows which of its limits (read, chunk gap, total) was the nearest.
    """

    stream: Any
    timeout: float | None
    on_timeout: type[TimeoutException]


class Poll(NamedTuple):
    """Whether ``stream`` has anything to read now: bytes, EOF, or an error.

    Asked of an idle pooled connection before it is reused, and answered without
    waiting: a connection that became readable while idle holds bytes no request asked
    for (a late reply, a ``408``, the server's close) and must not carry the next one.
    """

    stream: Any


class Close(NamedTuple):
    """Close ``stream``; never fails."""

    stream: Any


class Sleep(NamedTuple):
    """Wait ``seconds`` (between retries)."""

    seconds: float


Operation = Connect | StartTLS | Resolve | Write | Read | Poll | Close | Sleep
OPERATIONS = (Connect, StartTLS, Resolve, Write, Read, Poll, Close, Sleep)
