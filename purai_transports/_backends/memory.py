"""An in-memory backend with a fake clock: the client logic tested without sockets.

A test plays the server. :class:`MemoryBackend` calls its ``serve(stream, data)`` for
every request written, and the test answers on the stream: :meth:`MemoryStream.send`
bytes now or :meth:`~MemoryStream.send_when_idle`, then perhaps
:meth:`~MemoryStream.close_by_server`, :meth:`~MemoryStream.reset_by_server` or
:meth:`~MemoryStream.drop_silently`.
Nothing waits: a read with nothing to read and no end moves the :class:`FakeClock`
on by its whole time limit and raises that limit's error, so a test can check both
which limit ran out and when. ``sleep`` moves the clock too.

For the blocking runner (:class:`~purai_transports._core.runners.SyncRun`); make the
:class:`~purai_transports._core.client_core.ClientCore` with ``clock`` set to the
backend's clock, and ``jitter`` to a fixed value for exact backoffs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Literal

from purai_proto import PuraiError

from .._core.errors import ConnectError, NetworkError, TimeoutException
from .._core.operations import Connect, Resolve, StartTLS

__all__ = ["FakeClock", "MemoryBackend", "MemoryStream"]


class FakeClock:
    """Seconds that pass only when told to; call it for the time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MemoryStream:
    """One connection: what the client wrote, and what the test's server sends it.

    Attributes:
        written: Every write of the client, in order.
        closed: The client closed it.
    """

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._incoming: deque[bytes] = deque()
        self._when_idle: deque[bytes] = deque()  # once the client has read all before
        self._end: str | None = None  # "close", "reset" or "dropped", once it happened
        self.written: list[bytes] = []
        self.closed = False

    # -- the server's side: what a test does -------------------------------------------

    def send(self, data: bytes) -> None:
        """Bytes for the client's next read (one read returns one ``send``)."""
        self._incoming.append(data)

    def close_by_server(self) -> None:
        """The server closes: reads return what was sent, then ``b""``."""
        self._end = "close"

    def reset_by_server(self) -> None:
        """The server resets: reads return what was sent, then fail; writes fail."""
        self._end = "reset"

    def send_when_idle(self, data: bytes) -> None:
        """Bytes that arrive once the client has read all that came before them: a
        server writing while the connection sits idle in the pool. They come before
        the reply to the next request written, as they would on the wire."""
        self._when_idle.append(data)

    def drop_silently(self) -> None:
        """The connection is lost without a word (a NAT or a proxy forgot it): it does
        not look readable, and the client's next read or write fails."""
        self._end = "dropped"

    def _arrive(self) -> None:
        if not self._incoming and self._when_idle:
            self._incoming.append(self._when_idle.popleft())

    # -- the client's side: the stream interface of the runners -------------------------

    def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes:
        if self.closed:
            raise NetworkError("reading from a closed stream")
        self._arrive()
        if self._incoming:
            return self._incoming.popleft()
        if self._end == "close":
            return b""
        if self._end in ("reset", "dropped"):
            raise NetworkError("connection reset by peer")
        if timeout is None:
            raise AssertionError("a read that could wait for ever, with nothing to come")
        self._backend.clock.advance(timeout)
        raise on_timeout(f"no data for {timeout:.3g} s")

    def write(self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]) -> None:
        if self.closed:
            raise NetworkError("writing to a closed stream")
        # What the server sent before it could read this request is there first.
        self._incoming.extend(self._when_idle)
        self._when_idle.clear()
        if self._end is not None:
            raise NetworkError("broken pipe")
        if self._backend.stall_writes:
            if timeout is None:
                raise AssertionError("a write that could wait for ever")
            self._backend.clock.advance(timeout)
            raise on_timeout(f"sending took over {timeout:.3g} s")
        self.written.append(data)
        self._backend.serve(self, data)

    def is_readable(self) -> bool:
        self._arrive()
        return bool(self._incoming) or self._end in ("close", "reset") or self.closed

    def close(self) -> None:
        self.closed = True


class MemoryBackend:
    """Opens :class:`MemoryStream` connections, answered by ``serve``.

    Args:
        serve: Called with the stream and the bytes of each request written.
        clock: The time; shared with the client's ``ClientCore.clock``.

    Attributes:
        streams: Every connection opened, in order.
        sleeps: Every wait asked for (between retries), in seconds.
        refuse: How many of the next connects fail with ``ConnectError``.
        connect_faults: What the next connects do instead of connecting, in order:
            ``"stall"`` (nothing answers: the connect limit runs out), or an
            exception to raise (a ``TLSError``, say).
        stall_writes: Writes take no byte: each runs out its write limit.
    """

    def __init__(
        self, serve: Callable[[MemoryStream, bytes], None], clock: FakeClock | None = None
    ) -> None:
        self.serve = serve
        self.clock = clock or FakeClock()
        self.streams: list[MemoryStream] = []
        self.sleeps: list[float] = []
        self.refuse = 0
        self.connect_faults: deque[Literal["stall"] | PuraiError] = deque()
        self.stall_writes = False

    def connect(self, op: Connect) -> MemoryStream:
        if self.connect_faults:
            fault = self.connect_faults.popleft()
            if fault != "stall":
                raise fault
            if op.timeout is None:
                raise AssertionError("a connect that could wait for ever, with nothing to come")
            self.clock.advance(op.timeout)
            raise op.on_timeout(f"connecting took over {op.timeout:.3g} s")
        if self.refuse:
            self.refuse -= 1
            raise ConnectError(f"cannot connect to {op.origin.host}:{op.origin.port}: refused")
        stream = MemoryStream(self)
        self.streams.append(stream)
        return stream

    def start_tls(self, op: StartTLS) -> MemoryStream:
        # In memory the test plays the origin in the clear, inside the tunnel too.
        stream = op.stream
        assert isinstance(stream, MemoryStream)
        return stream

    def resolve(self, op: Resolve) -> str:
        return "192.0.2.1"  # TEST-NET-1 (RFC 5737): an address that is no one's

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)
