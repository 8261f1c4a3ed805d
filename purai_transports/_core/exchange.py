"""The client logic, written once for every transport.

Theory of operation
-------------------
A request and its reply are an :class:`Exchange`. Its :meth:`Exchange.run` is a
generator: it yields an :mod:`~purai_transports._core.operations` operation whenever it needs
I/O (connect, write, read, close, sleep) and is sent the result, and it yields each
decoded chunk for the caller. Blocking, anyio and trio clients differ only in the few
lines that perform the operations (:mod:`purai_transports._core.runners`); retries, the
connection pool, timeouts and the reading of events exist here only.

Every protocol decision is :class:`purai_proto.ClientConnection`'s: this module moves
its bytes and turns its events into chunks, a completion, or exceptions.

The rules:

* Connections are kept alive and reused: after a reply ends, a connection the
  protocol calls reusable goes back to the pool (at most ``max_keepalive`` of them,
  each for at most ``keepalive_expiry`` seconds).
* An exchange abandoned halfway (``break``, an exception, cancellation) leaves its
  connection in :attr:`Exchange.connection`; the runner closes it. It never returns to
  the pool: the rest of its reply would be read as the next one's.
* Before an idle connection is reused it is polled: one that became readable while
  idle (a late reply, bytes past a body's end, a ``408``, the server's close) holds
  bytes no request asked for, and is closed instead. Bytes that arrive with a reply's
  end make the protocol refuse reuse. Bytes that arrive only *after* the next request
  was written cannot be told from its reply by any HTTP/1.1 client: a connection is
  never reused once it was seen to carry them.
* Retries: a connection that fails to open, and a ``429``, ``502``, ``503`` or ``504``
  reply, are retried up to ``max_retries`` times with exponential backoff, waiting
  at least what ``Retry-After`` asks. Never once a reply's body began to stream.
* Re-sending: a request is sent again by itself only when the server cannot have
  received it whole: the write on a reused connection failed (and nothing of a
  reply could be read). A request written whole, whose connection then closed or
  broke before any byte of reply, may have been processed: it raises
  :class:`~purai_transports.ServerDisconnectedError`, unless the client was made
  with ``resend_unanswered=True`` and the connection was a reused one (the
  keep-alive race), when it is sent once more on a new connection.
* A failed write is not the end: the server may have answered before it stopped
  reading (a ``413`` for a body too large), so what it sent is read first.
* Timeouts: each read waits at most the nearest of the read limit, the chunk
  deadline and the total deadline, and the error raised says which one ran out. The
  chunk deadline starts when the request is written: it bounds the response head,
  any 1xx responses and an error body together, then each gap between two chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from purai_proto import (
    NEED_DATA,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ChunkReceived,
    CompletionReceived,
    ErrorReceived,
    LocalProtocolError,
    PuraiError,
    ResponseStarted,
    StreamAccumulator,
    StreamEnded,
)

from .errors import (
    APIStatusError,
    ChunkTimeout,
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnectedError,
    StreamError,
    TimeoutException,
    TLSError,
    TotalTimeout,
    TransportError,
    WriteTimeout,
)
from .operations import Close, Connect, Poll, Read, Sleep, Write
from .paths import not_found_hint
from .pool import Connection
from .requests import QueryArg
from .tunnel import open_tunnel

if TYPE_CHECKING:
    from .client_core import ClientCore

__all__ = ["Exchange"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: A reply asking to wait longer than this (Retry-After, seconds) is not retried: the
#: error is raised at once, with its retry_after, for the caller to decide.
MAX_RETRY_AFTER = 60.0


class Exchange:
    """One request and its reply, as a generator of operations and chunks.

    Args:
        request: What to post; ``None`` sends a ``GET`` of ``path`` (``models()``).
        path: The request target, the base URL's prefix included.
        query: Query parameters for the target, percent-encoded by the protocol.
        chunk_type: What the reply's chunks are decoded into.
        completion_type: What a non-streamed reply is decoded into, and what the
            chunks are folded into.

    Attributes:
        connection: The connection in use, while one is; the runner closes it if the
            exchange is abandoned before it ends.
        completion: The whole reply once the exchange ended: the non-streamed reply
            (of ``completion_type``), or the chunks accumulated.
        accumulator: The chunks so far, folded; ``None`` when the exchange was made
            with ``accumulate=False`` (a long stream then takes constant memory).
    """

    def __init__(
        self,
        core: ClientCore,
        request: ChatRequest | None,
        path: str,
        headers: Mapping[str, str],
        *,
        query: QueryArg | None = None,
        accumulate: bool = True,
        wants_reply: bool = False,
        chunk_type: Any = ChatCompletionChunk,
        completion_type: Any = ChatCompletion,
    ) -> None:
        self.core = core
        self.request = request
        self.path = path
        self.headers = headers
        self.query = query
        self.chunk_type = chunk_type
        self.completion_type = completion_type
        self.connection: Connection | None = None
        self.bytes_read = 0  # from the current connection, for this request
        self.chunk_deadline: float | None = None  # for the first chunk, once written
        self.completion: Any = None
        self.accumulator: StreamAccumulator[Any] | None = None
        self._fold: Callable[[Any], None] = _ignore
        if accumulate:
            self.accumulator = StreamAccumulator(completion_type=completion_type)
            # Structs go straight in; add() reads a plain dict as a chunk first.
            is_struct = isinstance(chunk_type, type) and issubclass(chunk_type, ChatCompletionChunk)
            self._fold = self.accumulator.add_chunk if is_struct else self.accumulator.add
        self.wants_reply = wants_reply  # complete(): an empty reply is an error

    def run(self) -> Generator[Any, Any, None]:
        """Yield operations (send back their results) and chunks (send back None)."""
        core = self.core
        timeout = core.timeout
        start = core.clock()
        total_deadline = start + timeout.total if timeout.total is not None else None
        attempt = 0
        reuse = True
        while True:
            try:
                status = yield from self._start(total_deadline, reuse=reuse)
            except _Resend:
                # At once and not counted as a retry, but on a new connection: once,
                # not once per pooled connection the pool still holds.
                reuse = False
                continue
            except ConnectError as exc:
                if attempt >= core.settings.max_retries or isinstance(exc, (TLSError, ProxyError)):
                    # A certificate that did not verify will not verify next time, nor
                    # will a proxy that refused let the next attempt through.
                    raise
                wait = self._backoff(attempt, None)
                if self._past(total_deadline, wait):
                    raise
            else:
                if status.status not in RETRY_STATUSES or attempt >= core.settings.max_retries:
                    break
                error = yield from self._error_reply(status, total_deadline)
                wait = self._backoff(attempt, error.retry_after)
                too_long = error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER
                if too_long or self._past(total_deadline, wait):
                    raise _api_error(error)
            attempt += 1
            yield Sleep(wait)
        yield from self._receive(status, total_deadline)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        # Full jitter keeps many clients that failed together from retrying together.
        first = self.core.settings.retry_backoff
        wait: float = first * (2**attempt) * (0.5 + self.core.jitter() / 2)
        return max(wait, retry_after) if retry_after is not None else wait

    def _past(self, deadline: float | None, wait: float) -> bool:
        """Whether waiting ``wait`` seconds would go past ``deadline``."""
        return deadline is not None and self.core.clock() + wait > deadline

    def _start(
        self, total_deadline: float | None, *, reuse: bool
    ) -> Generator[Any, Any, ResponseStarted]:
        """Connect (or reuse, if ``reuse``), send the request, read up to the status line."""
        core = self.core
        connection = (yield from self._take_idle()) if reuse else None
        if connection is None:
            connection = yield from self._connect(total_deadline)
        self.connection = connection
        self.bytes_read = 0
        data = connection.protocol.send_request(
            self.request,
            path=self.path,
            api_key=core.settings.api_key,
            headers=self.headers,
            query=self.query,
            chunk_type=self.chunk_type,
            completion_type=self.completion_type,
        )
        timeout, on_timeout = _limit(core.timeout.write, WriteTimeout, total_deadline, core.clock())
        try:
            yield Write(connection.stream, data, timeout, on_timeout)
        except NetworkError as exc:
            # The server may have answered and closed before reading all of the
            # request (a 413 for a body too large): what it said is the answer.
            connection.broken = True
            self._start_chunk_clock()
            event = yield from self._early_reply(total_deadline)
            if event is not None:
                return event
            yield from self._discard()
            if connection.reused:
                raise _Resend from exc  # not received whole: safe to send again
            raise
        self._start_chunk_clock()
        try:
            event = yield from self._next_event(total_deadline, self.chunk_deadline)
        except (NetworkError, RemoteProtocolError) as exc:
            if self.bytes_read:
                raise
            yield from self._discard()
            if connection.reused and core.settings.resend_unanswered:
                raise _Resend from exc
            raise ServerDisconnectedError(
                "the server closed the connection after the request was sent, before any "
                "reply: it may have processed the request, so it was not sent again"
            ) from exc
        assert isinstance(event, ResponseStarted)
        return event

    def _connect(self, total_deadline: float | None) -> Generator[Any, Any, Connection]:
        """A new connection to the route: to the origin, or through the proxy (its
        handshake within the same connect limit; see :mod:`.tunnel`)."""
        core = self.core
        route = core.route
        timeout, on_timeout = _limit(
            core.timeout.connect, ConnectTimeout, total_deadline, core.clock()
        )
        proxy = route.proxy
        stream = yield Connect(proxy.address if proxy else route.origin, timeout, on_timeout)
        connection = Connection(stream, core.new_protocol(), route)
        if proxy is None or proxy.forwards(route.origin):
            return connection
        self.connection = connection  # from here, closed by the runner if abandoned
        try:
            connection.stream = yield from open_tunnel(
                stream, route, timeout, on_timeout, core.clock
            )
        except PuraiError:
            yield from self._discard()
            raise
        return connection

    def _start_chunk_clock(self) -> None:
        """The request is written (or its write failed): the wait for the first chunk,
        head and 1xx responses and an error body included, starts now."""
        chunk = self.core.timeout.chunk
        self.chunk_deadline = self.core.clock() + chunk if chunk else None

    def _take_idle(self) -> Generator[Any, Any, Connection | None]:
        """A pooled connection fit to carry this request, closing the ones that are not:
        expired, or readable while idle (see the module doc)."""
        pool = self.core.pool
        now = self.core.clock()
        while True:
            connection = pool.pop(self.core.route)
            if connection is None:
                return None
            if not pool.expired(connection, now) and not (yield Poll(connection.stream)):
                return connection
            yield Close(connection.stream)

    def _early_reply(
        self, total_deadline: float | None
    ) -> Generator[Any, Any, ResponseStarted | None]:
        """The response head the server sent before a write failed, or None."""
        try:
            event = yield from self._next_event(total_deadline, self.chunk_deadline)
        except (TransportError, RemoteProtocolError):
            return None  # nothing to read on a connection that broke: the write failed
        assert isinstance(event, ResponseStarted)
        return event

    def _next_event(
        self, total_deadline: float | None, chunk_deadline: float | None
    ) -> Generator[Any, Any, Any]:
        """The next event of the reply, reading as much as that takes."""
        connection = self.connection
        assert connection is not None
        protocol = connection.protocol
        read_timeout = self.core.timeout.read
        clock = self.core.clock
        while True:
            event = protocol.next_event()
            if event is not NEED_DATA:
                return event
            timeout, on_timeout = _read_limit(read_timeout, chunk_deadline, total_deadline, clock)
            data = yield Read(connection.stream, timeout, on_timeout)
            self.bytes_read += len(data)
            protocol.receive_data(data)

    def _error_reply(
        self, status: ResponseStarted, total_deadline: float | None
    ) -> Generator[Any, Any, ErrorReceived]:
        """Read an error reply to its end; release or close its connection."""
        error: ErrorReceived | None = None
        while True:
            event = yield from self._next_event(total_deadline, self.chunk_deadline)
            if isinstance(event, ErrorReceived):
                error = error or event
            elif isinstance(event, StreamEnded):
                break
        yield from self._release()
        return error or ErrorReceived(status=status.status, message=status.reason.decode())

    def _receive(
        self, status: ResponseStarted, total_deadline: float | None
    ) -> Generator[Any, Any, None]:
        """Read the reply: yield its chunks, then keep or close the connection."""
        core = self.core
        chunk_timeout = core.timeout.chunk
        chunk_deadline = self.chunk_deadline
        clock = core.clock
        add = self._fold
        connection = self.connection
        assert connection is not None
        next_event = connection.protocol.next_event
        chunks = 0
        while True:
            # The hot loop, once per chunk: _next_event() inlined, as a generator
            # created per event would cost more than the rest of the loop.
            event = next_event()
            if event is NEED_DATA:
                event = yield from self._next_event(total_deadline, chunk_deadline)
            if type(event) is ChunkReceived:
                chunk = event.chunk
                add(chunk)
                chunks += 1
                if chunk_timeout:
                    chunk_deadline = clock() + chunk_timeout
                yield chunk
            elif type(event) is CompletionReceived:
                self.completion = event.completion
            elif type(event) is ErrorReceived:
                # The reply failed: stop here; its connection is not reused.
                yield from self._discard()
                if event.in_stream:
                    raise StreamError(event.message, body=event.body)
                if event.status == 407 and core.route.proxy is not None:
                    # A request in absolute form, refused by the proxy itself.
                    proxy = core.route.proxy
                    raise ProxyError(
                        f"the proxy {proxy} refused the request with 407: {event.message}",
                        status=407,
                    )
                raise self._status_error(event)
            elif type(event) is StreamEnded:
                break
        if self.completion is None and not chunks and self.wants_reply:
            yield from self._release()
            raise RemoteProtocolError(
                f"the server answered {status.status} with no completion: the reply is empty"
            )
        if self.completion is None and self.accumulator is not None:
            self.completion = self.accumulator.completion()
        yield from self._release()

    def _status_error(self, event: ErrorReceived) -> APIStatusError:
        """The error for an error status; a 404 names the URL tried, and what was
        probably meant when the base URL's convention and the path disagree."""
        if event.status != 404:
            return _api_error(event)
        origin = self.core.origin
        method = "GET" if self.request is None else "POST"
        return APIStatusError(
            event.status,
            event.message,
            body=event.body,
            retry_after=event.retry_after,
            url=f"{method} {origin.scheme}://{origin.host_header}{self.path}",
            hint=not_found_hint(origin, self.path[len(origin.prefix) :]),
        )

    def completion_so_far(self) -> Any:
        """The whole reply if it ended, else what the chunks so far make up.

        Raises:
            LocalProtocolError: The exchange was made with ``accumulate=False`` and
                the reply was streamed.
        """
        if self.completion is not None:
            return self.completion
        if self.accumulator is None:
            raise LocalProtocolError(
                "this stream was opened with accumulate=False: no completion is kept"
            )
        return self.accumulator.completion()

    def _release(self) -> Generator[Any, Any, None]:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        keep = connection.protocol.reusable and not connection.broken
        if not (keep and self.core.pool.give_back(connection, self.core.clock())):
            yield Close(connection.stream)

    def _discard(self) -> Generator[Any, Any, None]:
        connection, self.connection = self.connection, None
        if connection is not None:
            yield Close(connection.stream)


def _ignore(chunk: Any) -> None:
    pass


class _Resend(TransportError):
    """The request may be sent again on another connection, at once (see the module
    doc for when)."""


def _api_error(event: ErrorReceived) -> APIStatusError:
    return APIStatusError(
        event.status, event.message, body=event.body, retry_after=event.retry_after
    )


def _limit(
    limit: float | None, kind: type[TimeoutException], total_deadline: float | None, now: float
) -> tuple[float | None, type[TimeoutException]]:
    """How long an operation may take (its own limit or what is left of the total),
    and which limit that is.

    Raises:
        TotalTimeout: The total deadline has passed already.
    """
    if total_deadline is None:
        return limit, kind
    left = total_deadline - now
    if left <= 0:
        raise TotalTimeout("the request took longer than Timeout.total")
    if limit is None or left < limit:
        return left, TotalTimeout
    return limit, kind


def _read_limit(
    read: float | None,
    chunk_deadline: float | None,
    total_deadline: float | None,
    clock: Callable[[], float],
) -> tuple[float | None, type[TimeoutException]]:
    """How long the next read may wait, and which limit that is."""
    timeout: float | None = read
    which: type[TimeoutException] = ReadTimeout
    if chunk_deadline is not None or total_deadline is not None:
        now = clock()
        if chunk_deadline is not None:
            left = max(chunk_deadline - now, 0.0)
            if timeout is None or left < timeout:
                timeout, which = left, ChunkTimeout
        if total_deadline is not None:
            left = max(total_deadline - now, 0.0)
            if timeout is None or left < timeout:
                timeout, which = left, TotalTimeout
    return timeout, which
