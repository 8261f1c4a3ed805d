"""``ClientConnection``: one HTTP/1.1 connection to a chat-completions server, sans I/O.

Theory of operation
-------------------
An HTTP parser (:mod:`purai_proto._http`) cuts the response into a status
line, headers, body pieces and an end, whichever way the body is delimited (chunked
coding, ``Content-Length``, or the connection closing; RFC 9112, section 6.3): h11, or
httptools (llhttp, in C) when it is installed, which frames a chunked stream about
twenty-five times faster. Both give the same parts; h11 writes the request either
way. This module decides what the body *means*, from the status and the headers of
the response, the same way whichever parser cut it:

* a status outside 2xx: an error reply. Its body is kept (up to
  ``max_error_body_size``; past that only its start) and decoded at its end into one
  :class:`~purai_proto.ErrorReceived`, whatever its shape.
* ``text/event-stream`` or NDJSON, or a request that asked for ``stream``: chunks. The
  body goes through a :class:`~purai_proto.ChunkDecoder` as it arrives, and each chunk
  becomes a :class:`~purai_proto.ChunkReceived`.
* anything else: one non-streamed reply, a :class:`~purai_proto.CompletionReceived`.

``Content-Encoding`` is undone first, piece by piece, within ``max_decompressed_size``.

The per-chunk path is the hot one: the parser hands over a body piece (all the HTTP
chunks of one read, joined), it is decompressed if need be, fed to the decoder, and
each decoded chunk is wrapped in its event and queued in a deque, from which
``next_event()`` pops without doing anything else.

EOF is passed on to the parser only once it has parsed everything before it, so that
an error it raises after that is known to be caused by the connection closing early,
and can say what it cut (the headers, a ``Content-Length`` body, a chunked body) and
where (:func:`~purai_proto._reply_head.response_error` words it, for both parsers).
What the response's head says of its body is read by :mod:`purai_proto._reply_head`.

Errors follow h11's contract: bad bytes from the server raise
:class:`~purai_proto.RemoteProtocolError`, after the events that came before them;
misuse by the caller raises :class:`~purai_proto.LocalProtocolError`.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic

import h11

from ._content_encoding import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    BodyDecompressor,
    decompressor_for,
)
from ._decoding import DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_OBJECT_SIZE, ChunkDecoder
from ._error_reply import error_from_object, error_from_reply
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    NEED_DATA,
    ChunkReceived,
    ChunkT,
    CompletionReceived,
    CompletionT,
    ErrorReceived,
    Event,
    NeedData,
    ResponseStarted,
    StreamEnded,
)
from ._http import (
    DEFAULT_PATH,
    END,
    HeadersArg,
    HttpParserName,
    ParseError,
    ResponseHead,
    check_host,
    new_parser,
    request_head_and_body,
)
from ._models import ChatCompletion, ChatCompletionChunk, ChatRequest, ErrorBody
from ._reply_head import NO_HEAD, body_framing, read_reply_head, response_error

__all__ = ["DEFAULT_MAX_ERROR_BODY_SIZE", "DEFAULT_MAX_HEADER_SIZE", "ClientConnection"]

#: Default for ``max_error_body_size``: how much of an error reply's body is kept.
DEFAULT_MAX_ERROR_BODY_SIZE = 64 * 1024
#: Default for ``max_header_size``: the longest status line and header block accepted.
DEFAULT_MAX_HEADER_SIZE = 64 * 1024


class _State(enum.Enum):
    IDLE = "idle"  # no request outstanding: send_request() may be called
    AWAITING_RESPONSE = "awaiting the response"  # request sent, no status line yet
    RECEIVING_BODY = "receiving the body"
    DONE = "done"  # StreamEnded was returned
    FAILED = "failed"  # a RemoteProtocolError was raised: nothing more will work


def _user_agent() -> bytes:
    # Imported late: the package's __init__ sets __version__ after importing this module.
    from . import __version__

    return f"purai/{__version__}".encode()


class ClientConnection(Generic[ChunkT, CompletionT]):
    """One HTTP/1.1 connection to a PurAI or OpenAI-compatible server, without I/O.

    The caller moves the bytes: it sends what :meth:`send_request` returns, passes
    every read to :meth:`receive_data` (``b""`` at EOF), and calls :meth:`next_event`
    until it returns :data:`~purai_proto.NEED_DATA` (read more) or
    :class:`~purai_proto.StreamEnded` (the reply is complete). One request at a time;
    after ``StreamEnded`` the next one may follow when :attr:`reusable` is true.

    Args:
        host: The server's name, with ``:port`` when not the default, as sent in the
            ``Host`` header.
        chunk_type: What each streamed chunk is decoded into:
            :class:`~purai_proto.ChatCompletionChunk`, a subclass of it that adds the
            fields a server sends besides OpenAI's, or ``typing.Any`` for plain dicts.
        completion_type: What a non-streamed reply is decoded into, likewise:
            :class:`~purai_proto.ChatCompletion`, a subclass, or ``typing.Any``.
        max_object_size: The largest streamed chunk or whole reply accepted, in bytes.
        max_buffer_size: The most body bytes held while waiting for a chunk to complete.
        max_decompressed_size: The most bytes a compressed body may inflate to.
        max_error_body_size: How much of an error reply's body is kept to find the
            server's message in (the rest is read and dropped).
        max_header_size: The longest status line and header block accepted.
        http_parser: Which HTTP/1.1 parser reads responses: ``"h11"`` (pure Python),
            ``"httptools"`` (llhttp, in C: much faster on streams; ``pip install
            'purai[speedups]'``), or ``"auto"``, httptools when it can be imported,
            else h11. Both give the same events and errors for well-formed responses;
            requests are written by h11 either way.
        absolute_form: Send each request's target in absolute form
            (``http://host/path``), as a request to an HTTP proxy must be (RFC 9112,
            section 3.2.2), instead of origin form (``/path``).

    Raises:
        LocalProtocolError: A bad host, a limit that is not positive, an unknown
            ``http_parser``, ``"httptools"`` when httptools is not installed, or a
            type msgspec cannot decode into.

    Attributes:
        host: The host given.
        http_parser: The parser in use: ``"h11"`` or ``"httptools"``.
    """

    def __init__(
        self,
        host: str,
        *,
        chunk_type: type[ChunkT] = ChatCompletionChunk,  # type: ignore[assignment]
        completion_type: type[CompletionT] = ChatCompletion,  # type: ignore[assignment]
        max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
        max_error_body_size: int = DEFAULT_MAX_ERROR_BODY_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        http_parser: HttpParserName = "auto",
        absolute_form: bool = False,
    ) -> None:
        limits = (
            max_object_size,
            max_buffer_size,
            max_decompressed_size,
            max_error_body_size,
            max_header_size,
        )
        if any(limit <= 0 for limit in limits):
            raise LocalProtocolError("every max_..._size must be positive")
        self.host = host
        self._host = check_host(host)
        self._target_prefix = b"http://" + self._host if absolute_form else b""
        # Made once here so that a type msgspec cannot decode into fails now, not at
        # the first reply (decoders are cached per type: this costs nothing later).
        ChunkDecoder(chunk_type, "sse")
        ChunkDecoder(completion_type, "concatenated")
        self.chunk_type = chunk_type
        self.completion_type = completion_type
        self._reply_chunk_type: Any = chunk_type  # this reply's: see send_request()
        self._reply_completion_type: Any = completion_type
        self._user_agent = _user_agent()
        self._max_object_size = max_object_size
        self._max_buffer_size = max_buffer_size
        self._max_decompressed_size = max_decompressed_size
        self._max_error_body_size = max_error_body_size
        self._max_header_size = max_header_size
        self._parser = new_parser(http_parser, max_header_size)
        self.http_parser = self._parser.name
        self._events: deque[Event[ChunkT, CompletionT]] = deque()
        self._state = _State.IDLE
        self._error: RemoteProtocolError | None = None
        self._reuse_refused: str | None = None
        self._eof = False  # receive_data(b"") was called
        self._eof_passed = False  # ... and the parser was told
        self._reset_response(streamed=False)

    def _reset_response(self, *, streamed: bool) -> None:
        self._streamed = streamed  # the request asked for a stream
        self._received = 0  # bytes of this response so far, head included
        self._status = 0
        self._reason = b""
        self._head = NO_HEAD  # what the response's head says of its body
        self._body_received = 0  # body bytes as sent, before decompression
        self._decompressor: BodyDecompressor | None = None
        self._decoder: ChunkDecoder[ChunkT] | ChunkDecoder[CompletionT] | None = None
        self._decodes_chunks = False  # the decoder's values are chunks, not a completion
        self._error_body: bytearray | None = None  # an error reply's body, so far
        self._corrupt_body = False  # the body failed to decompress

    # -- the public API -----------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """True when the next request may be sent on this connection.

        That is: the previous reply was read to :class:`~purai_proto.StreamEnded` (or
        none was sent yet), neither side asked to close (``Connection: close``,
        HTTP/1.0, a body delimited by closing), no error was reported or raised, and
        the server has neither closed the connection nor sent bytes no request asked
        for. A reply the caller stopped reading halfway leaves the connection not
        reusable: the rest of its body would be taken for the next reply.
        """
        return self._why_not_reusable() is None

    def send_request(
        self,
        request: ChatRequest | None,
        *,
        path: str = DEFAULT_PATH,
        api_key: str | None = None,
        headers: HeadersArg | None = None,
        query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        chunk_type: Any = None,
        completion_type: Any = None,
    ) -> bytes:
        """Start a ``POST`` of ``request`` (a ``GET`` of ``path`` when it is ``None``)
        and return the bytes to send.

        After a reply ended with :class:`~purai_proto.StreamEnded`, this starts the
        next cycle on the same connection (see :meth:`start_next_cycle`).

        Args:
            request: The request; encoded by msgspec, fields left unset are left out.
                When its ``stream`` is true, the reply is read as chunks. ``None``
                sends a ``GET`` without a body (``/v1/models``, say).
            path: The request target: ``/openai/chat/completions`` (the default),
                ``/third-party/chat/completions``, OpenAI's ``/v1/chat/completions``,
                with a query string if wanted.
            api_key: Sent as ``Authorization: Bearer <api_key>`` when given.
            headers: Extra header fields, as a mapping or ``(name, value)`` pairs; one
                named like a default field (``User-Agent``, ``Accept``...) replaces it.
            query: Query parameters added to ``path``, as a mapping or ``(name,
                value)`` pairs, percent-encoded (a list value repeats the name).
            chunk_type: What this reply's chunks are decoded into, in place of the
                connection's ``chunk_type``: a pooled connection serves requests that
                want different types. (Type checkers still see the connection's.)
            completion_type: Likewise, for a non-streamed reply: the type of a
                ``GET``'s JSON reply, for one.

        Returns:
            The whole request: head and body.

        Raises:
            LocalProtocolError: A request is already in progress, the connection cannot
                be reused, or a header value (the API key, an extra header) holds CR, LF
                or another control character, or a header is otherwise invalid.
                Nothing is sent then.
        """
        if self._state in (_State.AWAITING_RESPONSE, _State.RECEIVING_BODY):
            raise LocalProtocolError(
                f"cannot send a request while the connection is {self._state.value}; "
                "it cannot be reused unless that reply is read to StreamEnded"
            )
        self.start_next_cycle()
        reply_types = (
            chunk_type if chunk_type is not None else self.chunk_type,
            completion_type if completion_type is not None else self.completion_type,
        )
        if reply_types != (self.chunk_type, self.completion_type):
            for type_ in reply_types:
                ChunkDecoder(type_, "concatenated")  # a type msgspec cannot decode fails now
        target, fields, body = request_head_and_body(
            request,
            host=self._host,
            path=path,
            api_key=api_key,
            headers=headers,
            user_agent=self._user_agent,
            query=query,
        )
        target = self._target_prefix + target
        try:
            # Building the event validates every field before any state changes.
            method = b"POST" if request is not None else b"GET"
            head = h11.Request(method=method, target=target, headers=fields)
        except h11.LocalProtocolError as exc:  # pragma: no cover - checked before
            raise LocalProtocolError(f"invalid request: {exc}") from None
        data = self._parser.send_request(head, body)
        self._reset_response(streamed=getattr(request, "stream", None) is True)
        self._reply_chunk_type, self._reply_completion_type = reply_types
        self._state = _State.AWAITING_RESPONSE
        return data

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Pass bytes read from the connection; ``b""`` means the server closed it.

        Only buffers: call :meth:`next_event` to get what the bytes complete.

        Args:
            data: The bytes, as read, cut anywhere; ``b""`` at EOF.

        Raises:
            LocalProtocolError: Data after EOF was passed.
        """
        if not data:
            self._eof = True
            return
        if self._eof:
            raise LocalProtocolError("receive_data() got data after EOF (b'') was passed")
        self._received += len(data)
        self._parser.receive_data(data if isinstance(data, bytes) else bytes(data))

    def next_event(self) -> Event[ChunkT, CompletionT] | NeedData:
        """The next event, or :data:`~purai_proto.NEED_DATA` when more bytes are needed.

        Returns:
            :class:`~purai_proto.ResponseStarted`, then
            :class:`~purai_proto.ChunkReceived` events or one
            :class:`~purai_proto.CompletionReceived`,
            :class:`~purai_proto.ErrorReceived` where the server reported an error, and
            :class:`~purai_proto.StreamEnded` last.

        Raises:
            RemoteProtocolError: The server's bytes break HTTP or the body's framing,
                exceed a limit, or stop early (EOF before the headers, inside a
                ``Content-Length`` or chunked body, or inside an object). Events
                completed before the problem are returned first; once raised, every
                later call raises it again.
            LocalProtocolError: No request is in progress (none was sent, or the reply
                has already ended).
        """
        events = self._events
        if events:
            return events.popleft()
        if self._error is not None:
            raise self._error
        if self._state not in (_State.AWAITING_RESPONSE, _State.RECEIVING_BODY):
            raise LocalProtocolError(
                "next_event() called with no reply in progress"
                if self._state is _State.IDLE
                else "the reply has ended; send the next request first"
            )
        try:
            self._pull()
        except RemoteProtocolError as exc:
            self._fail(exc)
            if not events:
                raise
        return events.popleft() if events else NEED_DATA

    def start_next_cycle(self) -> None:
        """Make the connection ready for the next request.

        :meth:`send_request` does this by itself; call it to check early.

        Raises:
            LocalProtocolError: The connection is not :attr:`reusable` (the message
                says why).
        """
        self._check_reusable()
        if self._state is _State.DONE:
            self._parser.start_next_cycle()
            self._state = _State.IDLE

    # -- reading the reply --------------------------------------------------------

    def _pull(self) -> None:
        """Run the parser until an event is queued or it needs data."""
        next_part = self._parser.next_part
        events = self._events
        while not events:
            try:
                part = next_part()
            except ParseError as exc:
                raise self._parse_error(exc) from None
            if part is NEED_DATA:
                self._raise_pending()
                if not self._eof or self._eof_passed:
                    return
                # Everything before EOF is parsed: say so now (see the module doc).
                self._eof_passed = True
                self._parser.receive_eof()
            elif part is END:
                self._on_end()
            elif isinstance(part, ResponseHead):
                self._on_response(part)
            else:
                self._on_body(part)

    def _on_response(self, head: ResponseHead) -> None:
        status, self._reason, headers = head
        self._status = status
        self._events.append(ResponseStarted(status=status, headers=headers, reason=self._reason))
        self._state = _State.RECEIVING_BODY
        self._head = reply_head = read_reply_head(headers)
        self._decompressor = decompressor_for(reply_head.encodings, self._max_decompressed_size)
        if not 200 <= status < 300:
            self._error_body = bytearray()
            return
        framing = body_framing(reply_head, self._streamed)
        if framing is None:
            self._decoder = ChunkDecoder(
                self._reply_completion_type,
                "concatenated",
                max_object_size=self._max_object_size,
                max_buffer_size=self._max_buffer_size,
            )
            return
        self._decoder = ChunkDecoder(
            self._reply_chunk_type,
            framing,
            max_object_size=self._max_object_size,
            max_buffer_size=self._max_buffer_size,
        )
        self._decodes_chunks = True

    def _on_body(self, data: bytes | bytearray) -> None:
        self._body_received += len(data)
        if self._decompressor is not None:
            data = self._inflate(data)
        decoder = self._decoder
        if decoder is not None:
            items = decoder.feed(data)
            if items:
                self._queue(items)
        else:
            self._keep_error_body(data)

    def _inflate(self, data: bytes | bytearray) -> bytes:
        assert self._decompressor is not None
        try:
            return self._decompressor.decompress(data)
        except RemoteProtocolError:
            # How much of a corrupt body inflated before the corruption depends on how
            # it was cut (zlib gives nothing from a call that fails), so nothing of it
            # may decide what is reported: see _fail().
            self._corrupt_body = True
            raise

    def _queue(self, items: Sequence[Any]) -> None:
        append = self._events.append
        chunks = self._decodes_chunks
        for item in items:
            # The decoder gives its type's values, and exactly ErrorBody for an error
            # object, whatever its type: one test per chunk on the hot path.
            if type(item) is ErrorBody:
                self._queue_error(error_from_object(item, self._status, self._head.retry_after))
            elif chunks:
                append(ChunkReceived(chunk=item))
            else:
                append(CompletionReceived(completion=item))

    def _queue_error(self, event: ErrorReceived) -> None:
        self._events.append(event)
        # After an error the server's state is unknown (PurAI cuts its providers
        # short); a fresh connection is the safe choice for the next request.
        self._reuse_refused = "the server reported an error on it"

    def _keep_error_body(self, data: bytes | bytearray) -> None:
        body = self._error_body
        assert body is not None
        room = self._max_error_body_size - len(body)
        if room > 0:
            body += data[:room]

    def _raise_pending(self) -> None:
        """Raise an error the decompressor or the decoder holds back.

        Both return what they decoded before a problem and keep the error for their
        next call; this is that call, made once the events before it are queued and
        no more bytes are at hand.
        """
        if self._decompressor is not None:
            self._inflate(b"")
        if self._decoder is not None:
            # No bytes complete no object: the result is always empty.
            self._decoder.feed(b"")

    def _on_end(self) -> None:
        self._raise_pending()
        if self._decompressor is not None:
            self._decompressor.finish()
        decoder = self._decoder
        if decoder is not None:
            try:
                items = decoder.close()
            except RemoteProtocolError as exc:
                cause = "the server closed the connection" if self._eof_passed else "the body ended"
                raise RemoteProtocolError(f"{cause}: {exc.reason}", offset=exc.offset) from None
            if items:
                self._queue(items)
        elif self._error_body is not None:
            self._queue_error_reply()
        self._events.append(StreamEnded())
        self._state = _State.DONE

    def _queue_error_reply(self) -> None:
        body = self._error_body
        assert body is not None
        self._error_body = None  # reported once, even if the body was cut short
        self._queue_error(
            error_from_reply(
                self._status, self._reason, bytes(body), self._head.retry_after, self._head.location
            )
        )

    # -- failures -----------------------------------------------------------------

    def _fail(self, exc: RemoteProtocolError) -> None:
        if self._error_body is not None and self._state is _State.RECEIVING_BODY:
            # An error reply cut short still says what the error was: report it
            # before the error about the cut (from its status line alone when the
            # body was corrupt, the same however it arrived).
            if self._corrupt_body:
                self._error_body.clear()
            self._queue_error_reply()
        self._error = exc
        self._state = _State.FAILED

    def _parse_error(self, exc: ParseError) -> RemoteProtocolError:
        """Our error for the parser's: saying what EOF cut, when EOF caused it."""
        return response_error(
            exc,
            closed=self._eof_passed,
            head_done=self._state is not _State.AWAITING_RESPONSE,
            received=self._received,
            body_received=self._body_received,
            head=self._head,
            max_header_size=self._max_header_size,
        )

    def _check_reusable(self) -> None:
        reason = self._why_not_reusable()
        if reason is not None:
            raise LocalProtocolError(f"the connection cannot be reused: {reason}")

    def _why_not_reusable(self) -> str | None:
        state = self._state
        if state is _State.FAILED:
            return f"it failed ({self._error})"
        if state is _State.AWAITING_RESPONSE or state is _State.RECEIVING_BODY:
            return "a reply is in progress, and must be read to StreamEnded first"
        if self._reuse_refused is not None:
            return self._reuse_refused
        if self._eof:
            return "the server closed it"
        if self._parser.unsolicited_data:
            return "the server sent bytes that no request asked for"
        if state is _State.DONE and not self._parser.keep_alive:
            return "the reply or the request asked to close it (Connection: close, HTTP/1.0)"
        return None
