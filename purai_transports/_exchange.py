"""The client logic, written once for every transport.

Theory of operation
-------------------
A request and its reply are an :class:`Exchange`. Its :meth:`Exchange.run` is a
generator: it yields an :mod:`~purai_transports._operations` operation whenever it needs
I/O (connect, write, read, close, sleep) and is sent the result, and it yields each
decoded chunk for the caller. Blocking, anyio and trio clients differ only in the few
lines that perform the operations (:mod:`purai_transports._runners`); retries, the
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

import math
import os
import random
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import msgspec

from purai_proto import (
    NEED_DATA,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ChunkReceived,
    ClientConnection,
    CompletionReceived,
    ErrorReceived,
    HttpParserName,
    LocalProtocolError,
    Message,
    ResponseStarted,
    StreamAccumulator,
    StreamEnded,
    check_headers,
    check_request,
)

from ._config import Origin, Timeout, is_number
from ._exceptions import (
    APIStatusError,
    ChunkTimeout,
    ConnectError,
    ConnectTimeout,
    NetworkError,
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
from ._operations import Close, Connect, Poll, Read, Sleep, Write

__all__ = ["ClientCore", "Connection", "Exchange"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: A reply asking to wait longer than this (Retry-After, seconds) is not retried: the
#: error is raised at once, with its retry_after, for the caller to decide.
MAX_RETRY_AFTER = 60.0
_FIELDS = {f.name: f for f in msgspec.structs.fields(ChatRequest)}


class Connection:
    """A byte stream from a backend and the protocol state that goes with it."""

    __slots__ = ("broken", "idle_since", "protocol", "reused", "stream")

    def __init__(self, stream: Any, protocol: ClientConnection) -> None:
        self.stream = stream
        self.protocol = protocol
        self.idle_since = 0.0
        self.reused = False  # carried an earlier exchange
        self.broken = False  # a write failed: never reused, whatever the reply said


class ClientCore:
    """What every client shares: its settings and its pool of idle connections.

    Args:
        base_url: ``http[s]://host[:port][/prefix]``.
        api_key: Sent as a bearer token; defaults to the ``PURAI_API_KEY`` environment
            variable.
        timeout: See :class:`~purai_transports.Timeout`; ``None`` means no limits.
        max_retries: How many times to retry a failed connection or a 429/502/503/504
            reply before any of its body arrived.
        headers: Extra header fields for every request.
        max_keepalive: The most idle connections kept for reuse.
        keepalive_expiry: Seconds an idle connection is kept.
        backoff: The first retry's wait in seconds; each further one doubles it.
        resend_unanswered: Re-send, once, a request whose reused connection closed
            after it was written and before any byte of reply (see the module doc).
        http_parser: The :class:`~purai_proto.ClientConnection` parser.

    Every setting is checked here, before any connection is made.

    Attributes:
        clock: Seconds, monotonic: ``time.monotonic`` unless a test gives its own.
        jitter: A number in [0, 1) for each backoff: ``random.random`` unless a test
            gives its own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - frozen
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        max_keepalive: int = 10,
        keepalive_expiry: float = 5.0,
        backoff: float = 0.5,
        resend_unanswered: bool = False,
        http_parser: HttpParserName = "auto",
    ) -> None:
        _check_count("max_retries", max_retries)
        _check_count("max_keepalive", max_keepalive)
        _check_seconds("keepalive_expiry", keepalive_expiry)
        _check_seconds("retry_backoff", backoff)
        if not isinstance(resend_unanswered, bool):
            raise LocalProtocolError(
                f"resend_unanswered must be True or False, not {resend_unanswered!r}"
            )
        self.origin = Origin.parse(base_url)
        key = api_key if api_key is not None else os.environ.get("PURAI_API_KEY")
        if key is not None and not isinstance(key, str):
            raise LocalProtocolError(f"api_key must be a str, not {type(key).__name__}")
        self._api_key = key or None  # an empty key (or variable) means no key
        self.timeout = Timeout.of(timeout)
        self.max_retries = max_retries
        check_headers(self._api_key, headers)
        self.headers = dict(headers or {})
        self.max_keepalive = max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self.backoff = backoff
        self.resend_unanswered = resend_unanswered
        self.http_parser = http_parser
        # Made once to check the parser's name (and that httptools imports, if asked).
        ClientConnection(self.origin.host_header, http_parser=http_parser)
        self.idle: list[Connection] = []
        self.closed = False
        self.clock: Callable[[], float] = time.monotonic
        self.jitter: Callable[[], float] = random.random

    def describe(self, client: object) -> str:
        """The repr of ``client``: its class and origin, and never the API key, since
        reprs end up in logs."""
        key = "set" if self._api_key else "none"
        return f"<{type(client).__name__} {self.origin} api_key={key}>"

    def exchange(
        self,
        request: ChatRequest | None,
        fields: dict[str, Any],
        *,
        path: str,
        stream: bool,
        headers: Mapping[str, str] | None = None,
        accumulate: bool = True,
    ) -> Exchange:
        """Prepare one request; nothing happens until its ``run()`` is driven."""
        if self.closed:
            raise LocalProtocolError("the client is closed")
        built = build_request(request, fields, stream=stream)
        if headers:
            check_headers(None, headers)
            extra = {**self.headers, **headers}
        else:
            extra = self.headers
        path = self.origin.prefix + _check_path(path)
        return Exchange(self, built, path, extra, accumulate=accumulate, wants_reply=not stream)

    def new_protocol(self) -> ClientConnection:
        """The protocol state for a new connection."""
        return ClientConnection(self.origin.host_header, http_parser=self.http_parser)

    def pop_idle(self) -> Connection | None:
        """The idle connection returned last, if any (the one most likely still open)."""
        return self.idle.pop() if self.idle else None

    def give_back(self, connection: Connection, now: float) -> bool:
        """Keep ``connection`` for reuse if there is room; False if it must be closed."""
        if self.closed or len(self.idle) >= self.max_keepalive:
            return False
        connection.idle_since = now
        connection.reused = True
        self.idle.append(connection)
        return True

    def drain(self) -> list[Connection]:
        """Close the client: every idle connection, for the runner to close."""
        self.closed = True
        idle, self.idle = self.idle, []
        return idle


def _check_count(name: str, value: object) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise LocalProtocolError(f"{name} must be an int of 0 or more, not {value!r}")


def _check_seconds(name: str, value: object) -> None:
    if not (is_number(value) and value >= 0 and math.isfinite(value)):  # type: ignore[operator, arg-type]
        raise LocalProtocolError(f"{name} must be a finite number of seconds, not {value!r}")


def _check_path(path: str) -> str:
    if not isinstance(path, str):
        raise LocalProtocolError(f"path must be a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise LocalProtocolError(f"path must start with '/', not {path!r}")
    return path


def build_request(
    request: ChatRequest | None, fields: dict[str, Any], *, stream: bool
) -> ChatRequest:
    """A ChatRequest from a request and/or keyword fields (messages may be dicts)."""
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise LocalProtocolError(f"unknown request field(s): {', '.join(unknown)}")
    if "messages" in fields:
        messages = fields["messages"]
        if not isinstance(messages, (list, tuple)):
            raise LocalProtocolError(
                f"messages must be a list of messages, not {type(messages).__name__}"
            )
        fields["messages"] = [
            m if isinstance(m, Message) else _convert(m, Message) for m in messages
        ]
    base = request if request is not None else ChatRequest()
    if "stream" not in fields and (request is None or request.stream is None or stream):
        fields["stream"] = stream
    try:
        built = msgspec.structs.replace(base, **fields)
        # Validate as the server will see it, so that a bad field fails here, with
        # the field's name, instead of as a 400 from the server.
        check_request(built)
        return msgspec.json.decode(msgspec.json.encode(built), type=ChatRequest)
    except (msgspec.ValidationError, TypeError) as exc:
        raise LocalProtocolError(f"invalid request: {exc}") from None


def _convert(value: Any, type_: type[Message]) -> Message:
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        raise LocalProtocolError(f"invalid message {value!r}: {exc}") from None


class Exchange:
    """One request and its reply, as a generator of operations and chunks.

    Attributes:
        connection: The connection in use, while one is; the runner closes it if the
            exchange is abandoned before it ends.
        completion: The whole reply once the exchange ended: the non-streamed reply,
            or the chunks accumulated.
        accumulator: The chunks so far, folded; ``None`` when the exchange was made
            with ``accumulate=False`` (a long stream then takes constant memory).
    """

    def __init__(
        self,
        core: ClientCore,
        request: ChatRequest,
        path: str,
        headers: Mapping[str, str],
        *,
        accumulate: bool = True,
        wants_reply: bool = False,
    ) -> None:
        self.core = core
        self.request = request
        self.path = path
        self.headers = headers
        self.connection: Connection | None = None
        self.bytes_read = 0  # from the current connection, for this request
        self.chunk_deadline: float | None = None  # for the first chunk, once written
        self.completion: ChatCompletion | None = None
        self.accumulator = StreamAccumulator() if accumulate else None
        self.wants_reply = wants_reply  # complete(): an empty reply is an error

    def run(self) -> Generator[Any, Any, None]:
        """Yield operations (send back their results) and chunks (send back None)."""
        core = self.core
        timeout = core.timeout
        start = core.clock()
        total_deadline = start + timeout.total if timeout.total is not None else None
        attempt = 0
        while True:
            try:
                status = yield from self._start(total_deadline)
            except _Resend:
                continue  # the server cannot have processed it: not a retry
            except ConnectError as exc:
                if attempt >= core.max_retries or isinstance(exc, TLSError):
                    raise  # a certificate that did not verify will not verify next time
                wait = self._backoff(attempt, None)
                if self._past(total_deadline, wait):
                    raise
            else:
                if status.status not in RETRY_STATUSES or attempt >= core.max_retries:
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
        wait: float = self.core.backoff * (2**attempt) * (0.5 + self.core.jitter() / 2)
        return max(wait, retry_after) if retry_after is not None else wait

    def _past(self, deadline: float | None, wait: float) -> bool:
        """Whether waiting ``wait`` seconds would go past ``deadline``."""
        return deadline is not None and self.core.clock() + wait > deadline

    def _start(self, total_deadline: float | None) -> Generator[Any, Any, ResponseStarted]:
        """Connect or reuse, send the request, read up to the status line."""
        core = self.core
        connection = yield from self._take_idle()
        if connection is None:
            timeout, on_timeout = _limit(
                core.timeout.connect, ConnectTimeout, total_deadline, core.clock()
            )
            stream = yield Connect(core.origin, timeout, on_timeout)
            connection = Connection(stream, core.new_protocol())
        self.connection = connection
        self.bytes_read = 0
        data = connection.protocol.send_request(
            self.request, path=self.path, api_key=core._api_key, headers=self.headers
        )
        timeout, on_timeout = _limit(core.timeout.write, WriteTimeout, total_deadline, core.clock())
        try:
            yield Write(connection.stream, data, timeout, on_timeout)
        except NetworkError as exc:
            # The server may have answered and closed before reading all of the
            # request (a 413 for a body too large): what it said is the answer.
            connection.broken = True
            event = yield from self._early_reply(total_deadline)
            if event is not None:
                return event
            yield from self._discard()
            if connection.reused:
                raise _Resend from exc  # not received whole: safe to send again
            raise
        chunk = core.timeout.chunk
        self.chunk_deadline = core.clock() + chunk if chunk else None
        try:
            event = yield from self._next_event(total_deadline, self.chunk_deadline)
        except (NetworkError, RemoteProtocolError) as exc:
            if self.bytes_read:
                raise
            yield from self._discard()
            if connection.reused and core.resend_unanswered:
                raise _Resend from exc
            raise ServerDisconnectedError(
                "the server closed the connection after the request was sent, before any "
                "reply: it may have processed the request, so it was not sent again"
            ) from exc
        assert isinstance(event, ResponseStarted)
        return event

    def _take_idle(self) -> Generator[Any, Any, Connection | None]:
        """A pooled connection fit to carry this request, closing the ones that are not:
        expired, or readable while idle (see the module doc)."""
        core = self.core
        now = core.clock()
        while True:
            connection = core.pop_idle()
            if connection is None:
                return None
            fresh = now - connection.idle_since < core.keepalive_expiry
            if fresh and not (yield Poll(connection.stream)):
                return connection
            yield Close(connection.stream)

    def _early_reply(
        self, total_deadline: float | None
    ) -> Generator[Any, Any, ResponseStarted | None]:
        """The response head the server sent before a write failed, or None."""
        try:
            event = yield from self._next_event(total_deadline, None)
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
        chunk_timeout = self.core.timeout.chunk
        chunk_deadline = self.chunk_deadline
        clock = self.core.clock
        add = self.accumulator.add_chunk if self.accumulator is not None else _ignore
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
                raise _api_error(event)
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

    def completion_so_far(self) -> ChatCompletion:
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
        if not (keep and self.core.give_back(connection, self.core.clock())):
            yield Close(connection.stream)

    def _discard(self) -> Generator[Any, Any, None]:
        connection, self.connection = self.connection, None
        if connection is not None:
            yield Close(connection.stream)


def _ignore(chunk: ChatCompletionChunk) -> None:
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
