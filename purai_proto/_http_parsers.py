"""Two ways to cut an HTTP/1.1 response into a head, body pieces and an end.

Theory of operation
-------------------
:class:`~purai_proto.ClientConnection` decides what a response *means* (an error reply,
chunks or one completion; how its body is compressed; what EOF cut). Everything before
that is here: a parser takes the bytes as read and hands back *parts*, one per
:meth:`ResponseParser.next_part` call:

* a :class:`ResponseHead` (status, reason, header fields; 1xx responses are skipped,
  RFC 9110, section 15.2),
* body pieces, as ``bytes``: every piece one read completes, joined (HTTP chunk
  boundaries mean nothing, RFC 9112, section 7.1, and one large piece lets the JSON
  decoder take many objects in one call),
* :data:`END`, once the body is complete,
* :data:`~purai_proto.NEED_DATA` when more bytes (or EOF) are needed.

A problem with the bytes raises :class:`ParseError` after the parts before it; the
connection words it as a :class:`~purai_proto.RemoteProtocolError`. EOF is passed with
:meth:`ResponseParser.receive_eof` only once everything before it is parsed, so the
error a cut response raises then is known to be caused by EOF.

Why two parsers
---------------
h11 is the default: pure Python, well kept, and strict where it matters. It also pays
a regular expression, an event object and a state machine step for every HTTP chunk,
and chat servers send one chunk per streamed object: measured, h11's framing took
4.3 of the blocking client's 6.9 µs per chunk, where httptools (llhttp, in C) frames
the same bytes in 0.17 µs; with it the client takes 2.7 µs per chunk (see
``docs/benchmarks.md``). So :class:`HttptoolsResponseParser` is an optional
accelerator, used when httptools can be imported (``pip install 'purai[speedups]'``).
Requests are written by h11 either way: it validates the request head.

Both parsers give the same parts for the same bytes, cut however. llhttp is looser
than h11 in a few places; :class:`HttptoolsResponseParser` closes each gap itself:

* llhttp skips empty lines before a status line and accepts ``RTSP/`` and ``ICE/``
  status lines: every head must start with ``HTTP/`` here (RFC 9112, section 4).
* llhttp takes status codes below 100, ``NUL``, ``VT`` and ``FF`` in a reason phrase,
  any ``Transfer-Encoding`` (in the head or in the trailers) and a ``Content-Length``
  of more than 20 digits: these are refused as h11 refuses them (RFC 9112, sections 4
  and 6.1; only ``chunked`` is supported, as in h11).
* llhttp decides the framing by its own reading of the fields (to it, ``chunked``
  followed by a tab is not chunked): here the framing is decided as h11 decides it,
  and a chunked body is read by an llhttp parser told nothing but "chunked".
* llhttp has no limit on the head: its size is counted here (``max_header_size``).
* llhttp keeps a field value's trailing whitespace and the field name's case: values
  are stripped (RFC 9110, section 5.5) and names lowercased, as h11 gives them.
* llhttp's keep-alive rule keeps an HTTP/1.0 response with ``Connection: keep-alive``
  open; h11 closes every HTTP/1.0 connection, and so does this module.
* llhttp silently skips CR and LF bytes after a complete response. They are bytes no
  request asked for, and h11 reports them (the connection is then not reusable), so
  this parser finds them too (see below).

Where llhttp is *stricter* than h11 (obsolete line folding, bare LF line ends, control
characters in field values, HTTP versions other than 0.9, 1.0, 1.1 and 2.0,
``Content-Length`` together with ``Transfer-Encoding`` or twice, whitespace after a
chunk size, chunk extensions that are not tokens or quoted strings) the response is
malformed and refused. h11 in turn refuses chunk sizes of more than 20 hex digits
(leading zeros, which RFC 9112 allows), and bounds only a head still incomplete, so
it takes a head over ``max_header_size`` that arrives whole in one read; this parser
counts every head. ``fuzz/invariants.py`` lists these differences, and the fuzzer
checks there are no others.

How the httptools parser reads
------------------------------
llhttp has no call for "the body ends at EOF", gives no error offsets and no way to
stop at the end of a response, so llhttp is used where it earns its keep and the rest
is counted here:

* the head: buffered until its blank line (the first CRLF CRLF: llhttp accepts no
  other line end), checked against ``max_header_size``, and fed to a fresh llhttp
  parser up to that line and not one byte further. llhttp validates it as it arrives,
  so a broken head is refused before its end. Each 1xx head gets a parser of its own.
* a ``Content-Length`` body is counted out of the reads without llhttp: nothing in it
  needs parsing, and bytes past its end are known at once.
* a body delimited by closing (RFC 9112, section 6.3, rule 8) is every byte until EOF.
* a chunked body is fed to an llhttp parser of its own, first told a head that says
  only "chunked". Its ``on_body`` callback is a bound ``list.append``, so each HTTP
  chunk costs no Python frame; the pieces of one read are joined after it. Bytes
  after the end are never the response's: llhttp reports them as another response
  beginning, or refuses them, or (CR and LF alone) skips them, which
  :meth:`HttptoolsResponseParser._parse_chunked` catches by feeding the last byte of
  a read that ends with five or more of them apart.
"""

from __future__ import annotations

import enum
import functools
import importlib
import re
from collections import deque
from collections.abc import Callable
from typing import Final, Literal, NamedTuple, Protocol, TypeAlias

import h11

from ._errors import LocalProtocolError
from ._events import NEED_DATA, NeedData

__all__ = [
    "END",
    "MAX_INFORMATIONAL_RESPONSES",
    "EndOfResponse",
    "H11ResponseParser",
    "HttpParserName",
    "HttptoolsResponseParser",
    "ParseError",
    "Part",
    "ResponseHead",
    "ResponseParser",
    "httptools_available",
    "new_parser",
]

#: The most 1xx responses taken before a final one (RFC 9110, section 15.2, sets no
#: limit; without one a server could hold a request with ``100 Continue`` forever).
#: Each counts against ``max_header_size`` as any head does.
MAX_INFORMATIONAL_RESPONSES = 32

#: The ``http_parser`` argument of :class:`~purai_proto.ClientConnection`.
HttpParserName: TypeAlias = Literal["auto", "h11", "httptools"]


class ResponseHead(NamedTuple):
    """The status line and header fields of a final (non-1xx) response.

    Attributes:
        status: The status code.
        reason: The reason phrase (``b""`` when the server sent none).
        headers: ``(name, value)`` pairs in the order received, names lowercased,
            values without surrounding whitespace (as h11 gives them).
    """

    status: int
    reason: bytes
    headers: tuple[tuple[bytes, bytes], ...]


class EndOfResponse(enum.Enum):
    """The type of :data:`END` (an enum of one member, for type narrowing)."""

    END = "END"

    def __repr__(self) -> str:
        return "END"


#: Returned by ``next_part()`` once the response's body is complete.
END: Final = EndOfResponse.END

#: What ``next_part()`` returns.
Part: TypeAlias = ResponseHead | bytes | bytearray | EndOfResponse | NeedData


class ParseError(Exception):
    """The response breaks HTTP/1.1, exceeds the head limit, or was cut by EOF.

    Attributes:
        detail: What was wrong, in the parser's words.
        too_large: True when the head (or, as in h11, a chunk header or the trailer
            section) exceeded ``max_header_size``.
        offset: Where in the response the problem was found, in bytes from its start,
            when the parser knows.
    """

    def __init__(self, detail: str, *, too_large: bool = False, offset: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.too_large = too_large
        self.offset = offset


class ResponseParser(Protocol):
    """What :class:`~purai_proto.ClientConnection` needs from an HTTP parser."""

    @property
    def name(self) -> Literal["h11", "httptools"]:
        """Which parser this is."""

    @property
    def keep_alive(self) -> bool:
        """True when the exchange is complete and neither side asked to close."""

    @property
    def unsolicited_data(self) -> bool:
        """True when bytes arrived that no request asked for (after a response)."""

    def send_request(self, head: h11.Request, body: bytes) -> bytes:
        """The bytes of a request with ``head`` and ``body``; a response is now due."""

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the connection (never empty)."""

    def receive_eof(self) -> None:
        """The server closed the connection; called once everything before is parsed."""

    def next_part(self) -> Part:
        """The next part of the response; raises :class:`ParseError`."""

    def start_next_cycle(self) -> None:
        """Forget the finished exchange (only called when :attr:`keep_alive`)."""


def _write_request(conn: h11.Connection, head: h11.Request, body: bytes) -> bytes:
    try:
        return conn.send(head) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:  # pragma: no cover - the state was checked
        raise LocalProtocolError(f"cannot send the request: {exc}") from None


# --- h11 ------------------------------------------------------------------------------


class H11ResponseParser:
    """The pure-Python parser: h11 reads the response and writes the request.

    Args:
        max_header_size: The longest head accepted (h11's maximum incomplete event).
    """

    name: Final = "h11"

    def __init__(self, max_header_size: int) -> None:
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)
        self._held: h11.EndOfMessage | None = None  # read after body pieces: returned next
        self._error: ParseError | None = None  # raised after the body pieces before it
        self._informational = 0  # 1xx responses to the current request

    @property
    def keep_alive(self) -> bool:
        conn = self._conn
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    @property
    def unsolicited_data(self) -> bool:
        return bool(self._conn.trailing_data[0])

    def send_request(self, head: h11.Request, body: bytes) -> bytes:
        self._informational = 0
        return _write_request(self._conn, head, body)

    def receive_data(self, data: bytes) -> None:
        self._conn.receive_data(data)

    def receive_eof(self) -> None:
        self._conn.receive_data(b"")

    def start_next_cycle(self) -> None:
        self._conn.start_next_cycle()

    def next_part(self) -> Part:
        if self._error is not None:
            raise self._error
        conn = self._conn
        try:
            event = self._held or conn.next_event()
            self._held = None
            if type(event) is h11.Data:
                # One Data event per HTTP chunk: take every one h11 has (see the module
                # docstring), and hold what follows them for the next call.
                pieces = [event.data]
                try:
                    event = conn.next_event()
                    while type(event) is h11.Data:
                        pieces.append(event.data)
                        event = conn.next_event()
                except h11.RemoteProtocolError as exc:
                    self._error = _h11_error(exc)  # the body before it is good
                else:
                    if type(event) is h11.EndOfMessage:
                        self._held = event
                return pieces[0] if len(pieces) == 1 else b"".join(pieces)
            while type(event) is h11.InformationalResponse:
                self._informational += 1
                _check_informational(self._informational)
                event = conn.next_event()  # 1xx: the final one follows (RFC 9110, 15.2)
        except h11.RemoteProtocolError as exc:
            raise _h11_error(exc) from None
        if event is h11.NEED_DATA:
            return NEED_DATA
        if type(event) is h11.Response:
            return ResponseHead(event.status_code, bytes(event.reason), tuple(event.headers))
        if type(event) is h11.EndOfMessage:
            return END
        # ConnectionClosed, PAUSED, Data after a 1xx: not while a reply is due.
        raise ParseError(f"unexpected {event!r} while reading the reply")  # pragma: no cover


def _check_informational(count: int) -> None:
    if count > MAX_INFORMATIONAL_RESPONSES:
        raise ParseError(
            f"more than {MAX_INFORMATIONAL_RESPONSES} 1xx responses before the final one"
        )


def _h11_error(exc: h11.RemoteProtocolError) -> ParseError:
    # h11 raises 431 ("Receive buffer too long") for a head, a chunk header or a
    # trailer section longer than its maximum incomplete event.
    return ParseError(str(exc), too_large=exc.error_status_hint == 431)


# --- httptools (llhttp) ---------------------------------------------------------------


class _LLHTTPParser(Protocol):
    """The part of ``httptools.HttpResponseParser`` used here (it ships no stubs
    before 0.7, and is imported at run time only)."""

    def feed_data(self, data: bytes | memoryview) -> None: ...

    def get_status_code(self) -> int: ...

    def get_http_version(self) -> str: ...


class _Httptools(NamedTuple):
    parser: Callable[[object], _LLHTTPParser]
    errors: tuple[type[Exception], ...]
    callback_error: type[Exception]


@functools.cache
def _load_httptools() -> _Httptools | None:
    try:
        module = importlib.import_module("httptools")
    except ImportError:
        return None
    # HttpParserUpgrade is not an HttpParserError: llhttp raises it for a 101 reply.
    return _Httptools(
        module.HttpResponseParser,
        (module.HttpParserError, module.HttpParserUpgrade),
        module.HttpParserCallbackError,
    )


def httptools_available() -> bool:
    """True when httptools can be imported (``http_parser="auto"`` then uses it)."""
    return _load_httptools() is not None


class _Phase(enum.Enum):
    IDLE = "idle"  # no request outstanding
    HEAD = "head"  # reading a head: 1xx heads, then the final one
    LENGTH = "length"  # a body of Content-Length bytes
    CHUNKED = "chunked"  # a chunked body, which llhttp parses
    CLOSE = "close"  # a body that ends when the connection closes
    DONE = "done"  # the response is complete


_HTTP_NAME = b"HTTP/"
_HEAD_END = b"\r\n\r\n"
# h11 refuses these in a reason phrase (RFC 9112, section 4: HTAB, SP, VCHAR and
# obs-text only); llhttp lets them through. CR and LF end the line in both.
_BAD_REASON = re.compile(rb"[\x00\x0b\x0c]")
_CRLF = b"\r\n"
_CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class _Collector:
    """What llhttp reports through its callbacks, kept for the parser to read.

    One per llhttp parser. It holds no reference to :class:`HttptoolsResponseParser`,
    so the two make no reference cycle, and the ``on_*`` callbacks never raise.

    Args:
        body_only: True for a parser that reads a chunked body, after a head of its
            own: its status line and fields are not the response's.
    """

    __slots__ = (
        "after_end",
        "body",
        "body_only",
        "ended",
        "fields",
        "head_complete",
        "on_body",
        "pieces_at_end",
        "reason",
    )

    def __init__(self, *, body_only: bool) -> None:
        self.body_only = body_only
        self.body: list[bytes] = []
        self.on_body = self.body.append  # called per piece of body: no Python frame
        self.reason = b""  # in pieces when the status line came in pieces
        self.fields: list[tuple[bytes, bytes]] = []  # the head's, or the trailers
        self.head_complete = False
        self.ended = False  # the chunked body is complete
        self.pieces_at_end = 0  # ... after this many pieces of body
        self.after_end = False  # llhttp began another response after it

    def on_message_begin(self) -> None:
        if self.ended:
            self.after_end = True

    def on_status(self, status: bytes) -> None:
        if not self.body_only:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.ended:  # a head's field, or a trailer field (RFC 9112, 7.1.2)
            self.fields.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_complete = True

    def on_message_complete(self) -> None:
        if self.body_only and not self.ended:
            self.ended = True
            self.pieces_at_end = len(self.body)


class HttptoolsResponseParser:
    """The accelerated parser: llhttp (through httptools) reads heads and chunked bodies.

    Args:
        max_header_size: The longest head (status line, fields and the blank line)
            accepted; also bounds the bytes of chunk headers and trailers between two
            pieces of body, as h11's limit does.
        httptools: The loaded module's parser class and errors.
    """

    name: Final = "httptools"

    def __init__(self, max_header_size: int, httptools: _Httptools) -> None:
        self._max_header_size = max_header_size
        self._new_llhttp = httptools.parser
        self._llhttp_errors = httptools.errors
        self._callback_error = httptools.callback_error
        self._informational = 0  # 1xx responses to the current request
        self._phase = _Phase.IDLE
        self._pending: list[bytes] = []  # received, not parsed yet
        self._parts: deque[Part] = deque()  # parsed, not returned yet
        self._error: ParseError | None = None  # raised once the parts before it are out
        self._eof = False
        self._unsolicited = False
        self._request_keep_alive = True
        self._response_keep_alive = True
        self._chunked = False  # the final head says Transfer-Encoding: chunked
        self._length: int | None = None  # ... or gives a Content-Length
        self._remaining = 0  # of a Content-Length body
        self._between_pieces = 0  # of a chunked body: bytes fed since a piece of body
        self._start_head()

    def _start_head(self, offset: int = 0) -> None:
        """Read a head starting ``offset`` bytes into the response, with a new parser."""
        self._head = bytearray()  # the head being read, from its first byte
        self._head_offset = offset
        self._searched = 0  # where to look for its blank line from
        self._fed = 0  # how much of it llhttp has seen
        self._found = _Collector(body_only=False)
        self._llhttp = self._new_llhttp(self._found)

    # -- the interface --------------------------------------------------------------

    @property
    def keep_alive(self) -> bool:
        return self._phase is _Phase.DONE and self._request_keep_alive and self._response_keep_alive

    @property
    def unsolicited_data(self) -> bool:
        return self._unsolicited

    def send_request(self, head: h11.Request, body: bytes) -> bytes:
        # A fresh h11 connection per request: h11 checks and frames the request and
        # says whether it asked to close (RFC 9112, section 9.6).
        writer = h11.Connection(h11.CLIENT)
        data = _write_request(writer, head, body)
        self._request_keep_alive = writer.our_state is h11.DONE
        self._response_keep_alive = True
        self._informational = 0
        self._start_head()
        self._phase = _Phase.HEAD
        return data

    def receive_data(self, data: bytes) -> None:
        if self._phase is _Phase.IDLE or self._phase is _Phase.DONE:
            self._unsolicited = True  # no request asked for them: never parsed
        else:
            self._pending.append(data)

    def receive_eof(self) -> None:
        self._eof = True

    def start_next_cycle(self) -> None:
        self._phase = _Phase.IDLE

    def next_part(self) -> Part:
        parts = self._parts
        if parts:
            return parts.popleft()
        if self._error is not None:
            raise self._error
        pending = self._pending
        if not pending:
            return self._at_eof() if self._eof else NEED_DATA
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        try:
            if self._phase is _Phase.CHUNKED:  # the hot path: a streamed reply
                self._parse_chunked(data)
            elif self._phase is _Phase.HEAD:
                self._parse_head(data)
            elif self._phase is _Phase.LENGTH:
                self._parse_length(data)
            else:  # CLOSE: receive_data() keeps the others out of _pending
                parts.append(data)
        except ParseError as exc:
            self._error = exc
        if parts:
            return parts.popleft()
        if self._error is not None:
            raise self._error
        return NEED_DATA

    # -- the head ---------------------------------------------------------------------

    def _parse_head(self, data: bytes) -> None:
        head = self._head
        head += data
        while True:
            # RFC 9112, section 4: a response starts with its status line, "HTTP/"
            # first. llhttp would skip empty lines before it, or take "RTSP/".
            start = bytes(head[:5])
            if not _HTTP_NAME.startswith(start):
                at = 0
                while start[at] == _HTTP_NAME[at]:
                    at += 1
                raise ParseError(
                    "the response does not start with 'HTTP/'", offset=self._head_offset + at
                )
            end = head.find(_HEAD_END, self._searched)
            if end < 0:
                self._searched = max(0, len(head) - 3)
                size = len(head)
            else:
                size = end + len(_HEAD_END)
            # llhttp first, so that a head broken within the limit gets the same
            # error however it was cut; then the limit.
            self._feed_head(min(size, self._max_header_size))
            if size > self._max_header_size:
                raise ParseError("head too long", too_large=True)
            if end < 0:
                if self._found.head_complete:  # pragma: no cover - llhttp needs CRLF CRLF
                    raise ParseError("llhttp ended the head before its blank line")
                return
            final = self._read_head()
            rest = bytes(memoryview(head)[size:])
            if final is not None:
                self._start_body(final, rest)
                return
            # A 1xx response: the final one follows (RFC 9110, section 15.2), read by a
            # parser of its own (llhttp would apply the 1xx's Connection field to it).
            self._informational += 1
            _check_informational(self._informational)
            self._start_head(self._head_offset + size)
            if not rest:
                return
            head = self._head
            head += rest

    def _feed(self, llhttp: _LLHTTPParser, data: bytes) -> None:
        """``llhttp.feed_data(data)``, raising llhttp's errors, and what a callback
        raised as itself.

        The callbacks never raise on their own, so what one raised came from outside:
        a ``KeyboardInterrupt`` or ``SystemExit`` from a signal handler that ran inside
        it. httptools wraps it in ``HttpParserCallbackError``, which would read as the
        server's fault; it goes on unchanged instead.
        """
        try:
            llhttp.feed_data(data)
        except self._callback_error as exc:
            if exc.__context__ is not None:
                raise exc.__context__ from None
            raise  # pragma: no cover - httptools always sets the context

    def _feed_head(self, end: int) -> None:
        """Feed llhttp the head up to ``end``, refusing what llhttp refuses."""
        if end <= self._fed:
            return
        chunk = bytes(memoryview(self._head)[self._fed : end])
        self._fed = end
        try:
            self._feed(self._llhttp, chunk)
        except self._llhttp_errors as exc:
            if self._found.head_complete and self._llhttp.get_status_code() == 101:
                raise ParseError(_NO_UPGRADE) from None
            raise ParseError(str(exc), offset=self._error_offset()) from None

    def _error_offset(self) -> int | None:
        """Where llhttp found the head broken: fed again to a fresh parser, by bytes."""
        probe = self._new_llhttp(_Collector(body_only=False))
        head = bytes(self._head[: self._fed])
        for i in range(len(head)):
            try:
                self._feed(probe, head[i : i + 1])
            except self._llhttp_errors:
                return self._head_offset + i
        return None  # pragma: no cover - the same bytes fail the same way

    def _read_head(self) -> ResponseHead | None:
        """The head llhttp read, checked and normalized as h11 would; None for 1xx."""
        found = self._found
        if not found.head_complete:  # pragma: no cover - llhttp saw the blank line
            raise ParseError("llhttp did not complete the head at its blank line")
        status = self._llhttp.get_status_code()
        if status < 100:
            raise ParseError(f"status code {status:03d} is below 100")
        if status == 101:  # pragma: no cover - llhttp raises first (see _feed_head)
            raise ParseError(_NO_UPGRADE)
        reason = found.reason
        if _BAD_REASON.search(reason):
            raise ParseError(f"illegal character in the reason phrase {reason!r}")
        fields, chunked, length, close = _check_fields(found.fields)
        if status < 200:
            return None
        # HTTP/1.0 closes after the response; so does "Connection: close" (RFC 9112,
        # section 9.3). llhttp gives "major.minor", one digit each.
        self._response_keep_alive = self._llhttp.get_http_version() >= "1.1" and not close
        self._chunked = chunked
        self._length = length
        return ResponseHead(status, reason, tuple(fields))

    # -- the body ---------------------------------------------------------------------

    def _start_body(self, head: ResponseHead, rest: bytes) -> None:
        """Pick the body's framing (RFC 9112, section 6.3) and read ``rest`` with it."""
        self._parts.append(head)
        if head.status == 204 or head.status == 304:
            self._end(more=bool(rest))  # rule 1: no body, whatever the fields say
        elif self._chunked:
            self._phase = _Phase.CHUNKED  # rule 4
            # A parser of its own, told no more than "chunked": the framing is decided
            # here, as h11 decides it. llhttp reads some fields its own way ("chunked"
            # and a tab is not chunked to it, so it would read the body to the close).
            self._found = found = _Collector(body_only=True)
            self._llhttp = self._new_llhttp(found)
            self._feed(self._llhttp, _CHUNKED_HEAD)
            found.fields.clear()  # the trailers come next
            self._between_pieces = 0
            if rest:
                self._parse_chunked(rest)
        elif self._length is not None:
            self._phase = _Phase.LENGTH  # rule 6
            self._remaining = self._length
            if not self._length:
                self._end(more=bool(rest))
            elif rest:
                self._parse_length(rest)
        else:
            self._phase = _Phase.CLOSE  # rule 8: until the server closes
            self._response_keep_alive = False
            if rest:
                self._parts.append(rest)

    def _end(self, *, more: bool = False) -> None:
        """The response is complete; ``more``: bytes followed it (never parsed)."""
        self._parts.append(END)
        self._phase = _Phase.DONE
        if more:
            self._unsolicited = True

    def _parse_length(self, data: bytes) -> None:
        remaining = self._remaining
        if len(data) < remaining:
            self._remaining = remaining - len(data)
            self._parts.append(data)
            return
        self._remaining = 0
        self._parts.append(data if len(data) == remaining else data[:remaining])
        self._end(more=len(data) > remaining)

    def _parse_chunked(self, data: bytes) -> None:
        found = self._found
        last = data[-1]
        if (last == 10 or last == 13) and not data[-5:].strip(_CRLF):
            # After a response llhttp skips CR and LF without a callback, so CR LF
            # bytes after the end would pass unnoticed. A chunked body ends with
            # exactly four of them ("0" CRLF CRLF, or a trailer's CRLF CRLF: llhttp
            # takes no bare LF), so more may follow the end only when the input ends
            # with five or more. Then the last byte goes alone: if the body ended
            # before it, it is a byte no request asked for.
            error = self._feed_chunked(data[:-1]) if len(data) > 1 else None
            if error is None:
                if found.ended:
                    self._unsolicited = True
                else:
                    error = self._feed_chunked(data[-1:])
        else:
            try:
                self._feed(self._llhttp, data)
                error = None
            except self._llhttp_errors as exc:
                error = self._chunked_error(exc)
        body = found.body
        if found.ended:
            del body[found.pieces_at_end :]  # any after are from bytes after the end
            if found.after_end:
                self._unsolicited = True
        if body:
            self._parts.append(body[0] if len(body) == 1 else b"".join(body))
            body.clear()
            self._between_pieces = 0
        elif not found.ended and error is None:
            # Chunk headers and trailers, which h11 bounds by its maximum incomplete
            # event (llhttp does not, and httptools buffers trailer fields).
            self._between_pieces += len(data)
            if self._between_pieces > self._max_header_size:
                error = ParseError("chunk header or trailer section too long", too_large=True)
        if error is not None:
            raise error
        if found.ended:
            # Trailer fields are dropped (the connection has no use for them), once
            # checked as h11 checks them.
            _check_fields(found.fields)
            self._end()

    def _feed_chunked(self, data: bytes) -> ParseError | None:
        try:
            self._feed(self._llhttp, data)
        except self._llhttp_errors as exc:
            return self._chunked_error(exc)
        return None

    def _chunked_error(self, exc: Exception) -> ParseError | None:
        """Our error for llhttp's, unless it is about bytes after the end."""
        if self._found.ended:
            self._unsolicited = True
            return None
        return ParseError(str(exc))  # httptools does not say where

    def _at_eof(self) -> Part:
        if self._phase is _Phase.CLOSE:  # RFC 9112, section 6.3, rule 8
            self._end()
            return self._parts.popleft()
        # Cut: in the head, or before the end of a Content-Length or chunked body
        # (RFC 9112, section 8). The connection says which from its own state.
        self._error = ParseError("the connection closed before the response was complete")
        raise self._error


def _check_fields(
    raw: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], bool, int | None, bool]:
    """A head's or a trailer section's fields as h11 gives them, checked as h11 does.

    Returns:
        The fields (names lowercased, values stripped), whether Transfer-Encoding
        says chunked, the Content-Length, and whether Connection says close.

    Raises:
        ParseError: A field h11 refuses and llhttp does not.
    """
    chunked = close = False
    length: int | None = None
    fields = []
    for raw_name, raw_value in raw:
        name = raw_name.lower()
        # llhttp strips the whitespace before a value, not after (RFC 9110, 5.5).
        value = raw_value.rstrip(b" \t")
        if name == b"transfer-encoding":
            # Only "chunked", once (h11's rule; RFC 9112, section 6.1 allows more).
            if chunked:
                raise ParseError("multiple Transfer-Encoding headers")
            value = value.lower()
            if value != b"chunked":
                raise ParseError("Only Transfer-Encoding: chunked is supported")
            chunked = True
        elif name == b"content-length":
            # llhttp refuses anything but digits, a second one, one with chunked, and
            # a value over 2**64 - 1; h11 also refuses more than 20 digits.
            if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                raise ParseError(f"bad Content-Length {value!r}")
            length = int(value)
        elif name == b"connection" and b"close" in _tokens(value):
            close = True
        fields.append((name, value))
    return fields, chunked, length, close


_MAX_LENGTH_DIGITS = 20  # as h11's CONTENT_LENGTH_MAX_DIGITS


def _tokens(value: bytes) -> list[bytes]:
    """A comma-separated list field's members, lowercased (RFC 9110, section 5.6.1)."""
    return [token.strip(b" \t") for token in value.lower().split(b",")]


_NO_UPGRADE = "a 101 (Switching Protocols) response, but no request asked for an upgrade"


def new_parser(name: str, max_header_size: int) -> ResponseParser:
    """The parser ``name`` chooses.

    Args:
        name: ``"h11"``; ``"httptools"``; or ``"auto"``, httptools when it can be
            imported, else h11.
        max_header_size: The longest response head accepted.

    Raises:
        LocalProtocolError: An unknown name, or ``"httptools"`` when it is not
            installed.
    """
    if name == "h11":
        return H11ResponseParser(max_header_size)
    if name != "auto" and name != "httptools":
        raise LocalProtocolError(f"http_parser must be 'auto', 'h11' or 'httptools', not {name!r}")
    httptools = _load_httptools()
    if httptools is not None:
        return HttptoolsResponseParser(max_header_size, httptools)
    if name == "httptools":
        raise LocalProtocolError(
            "http_parser='httptools' needs httptools: pip install 'purai[speedups]'"
        )
    return H11ResponseParser(max_header_size)
