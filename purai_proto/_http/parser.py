"""What an HTTP response parser is: the parts it hands back, its errors, its protocol.

Theory of operation
-------------------
:class:`~purai_proto.ClientConnection` decides what a response *means* (an error reply,
chunks or one completion; how its body is compressed; what EOF cut). Everything before
that is a parser's job: it takes the bytes as read and hands back *parts*, one per
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

Requests are written by h11 whichever parser reads the response (:func:`write_request`):
it validates the request head.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, NamedTuple, Protocol, TypeAlias

import h11

from .._errors import LocalProtocolError
from .._events import NeedData

__all__ = [
    "END",
    "MAX_INFORMATIONAL_RESPONSES",
    "EndOfResponse",
    "ParseError",
    "Part",
    "ResponseHead",
    "ResponseParser",
    "check_informational",
    "write_request",
]

#: The most 1xx responses taken before a final one (RFC 9110, section 15.2, sets no
#: limit; without one a server could hold a request with ``100 Continue`` forever).
#: Each counts against ``max_header_size`` as any head does.
MAX_INFORMATIONAL_RESPONSES = 32


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


def write_request(conn: h11.Connection, head: h11.Request, body: bytes) -> bytes:
    """The bytes of the request ``head`` with ``body``, written (and checked) by h11."""
    try:
        return conn.send(head) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:  # pragma: no cover - the state was checked
        raise LocalProtocolError(f"cannot send the request: {exc}") from None


def check_informational(count: int) -> None:
    """Refuse the ``count``-th 1xx response to one request when it is one too many."""
    if count > MAX_INFORMATIONAL_RESPONSES:
        raise ParseError(
            f"more than {MAX_INFORMATIONAL_RESPONSES} 1xx responses before the final one"
        )
