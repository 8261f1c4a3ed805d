"""The accelerated response parser: llhttp (through httptools), made to read as h11 does.

How it differs from llhttp
--------------------------
:class:`HttptoolsResponseParser` gives the same parts as
:class:`~purai_proto._http.h11_parser.H11ResponseParser` for the same bytes, cut
however. llhttp is looser than h11 in a few places; the parser closes each gap itself:

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
import re
from collections import deque
from typing import Final

import h11

from .._events import NEED_DATA
from .fields import check_fields
from .llhttp_binding import Collector, Httptools, LLHTTPParser
from .parser import (
    END,
    ParseError,
    Part,
    ResponseHead,
    check_informational,
    write_request,
)

__all__ = ["HttptoolsResponseParser"]


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


class HttptoolsResponseParser:
    """The accelerated parser: llhttp (through httptools) reads heads and chunked bodies.

    Args:
        max_header_size: The longest head (status line, fields and the blank line)
            accepted; also bounds the bytes of chunk headers and trailers between two
            pieces of body, as h11's limit does.
        httptools: The loaded module's parser class and errors.
    """

    name: Final = "httptools"

    def __init__(self, max_header_size: int, httptools: Httptools) -> None:
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
        self._found = Collector(body_only=False)
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
        data = write_request(writer, head, body)
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
            check_informational(self._informational)
            self._start_head(self._head_offset + size)
            if not rest:
                return
            head = self._head
            head += rest

    def _feed(self, llhttp: LLHTTPParser, data: bytes) -> None:
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
        probe = self._new_llhttp(Collector(body_only=False))
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
        fields, chunked, length, close = check_fields(found.fields)
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
            self._found = found = Collector(body_only=True)
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
            check_fields(found.fields)
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


_NO_UPGRADE = "a 101 (Switching Protocols) response, but no request asked for an upgrade"
