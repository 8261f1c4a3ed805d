"""The pure-Python response parser: h11 reads the response and writes the request.

h11 gives an event per piece of a response: the head, a ``Data`` event per HTTP
chunk, the end. :class:`H11ResponseParser` turns them into a parser's parts (see
:mod:`purai_proto._http.parser`): it joins the ``Data`` events h11 has into one body
piece, skips 1xx heads (up to ``MAX_INFORMATIONAL_RESPONSES``), and words h11's
errors as ``ParseError``, too large when h11 says 431.
"""

from __future__ import annotations

from typing import Final

import h11

from .._events import NEED_DATA
from .parser import (
    END,
    ParseError,
    Part,
    ResponseHead,
    check_informational,
    write_request,
)

__all__ = ["H11ResponseParser"]


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
        return write_request(self._conn, head, body)

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
                # One Data event per HTTP chunk: take every one h11 has (parser.py says
                # why), and hold what follows them for the next call.
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
                check_informational(self._informational)
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


def _h11_error(exc: h11.RemoteProtocolError) -> ParseError:
    # h11 raises 431 ("Receive buffer too long") for a head, a chunk header or a
    # trailer section longer than its maximum incomplete event.
    return ParseError(str(exc), too_large=exc.error_status_hint == 431)
