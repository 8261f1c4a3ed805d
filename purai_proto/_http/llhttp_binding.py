"""httptools, loaded when it can be, and what its llhttp parsers report back.

httptools is an optional extra (``pip install 'purai[speedups]'``): it is imported at
run time, once, by :func:`load_httptools`, and nothing here needs it installed to
import. An llhttp parser reports what it reads by calling methods of the object it is
given; a :class:`Collector` is that object, and keeps what it is told for
:class:`~purai_proto._http.llhttp_parser.HttptoolsResponseParser` to read.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import NamedTuple, Protocol

__all__ = ["Collector", "Httptools", "LLHTTPParser", "load_httptools"]


class LLHTTPParser(Protocol):
    """The part of ``httptools.HttpResponseParser`` used here (it ships no stubs
    before 0.7, and is imported at run time only)."""

    def feed_data(self, data: bytes | memoryview) -> None: ...

    def get_status_code(self) -> int: ...

    def get_http_version(self) -> str: ...


class Httptools(NamedTuple):
    """The loaded module's parser class and the errors it raises."""

    parser: Callable[[object], LLHTTPParser]
    errors: tuple[type[Exception], ...]
    callback_error: type[Exception]


@functools.cache
def load_httptools() -> Httptools | None:
    """httptools, imported the first time it is asked for; None when it is not installed."""
    try:
        module = importlib.import_module("httptools")
    except ImportError:
        return None
    # HttpParserUpgrade is not an HttpParserError: llhttp raises it for a 101 reply.
    return Httptools(
        module.HttpResponseParser,
        (module.HttpParserError, module.HttpParserUpgrade),
        module.HttpParserCallbackError,
    )


class Collector:
    """What llhttp reports through its callbacks, kept for the parser to read.

    One per llhttp parser. It holds no reference to the parser that reads it, so the
    two make no reference cycle, and the ``on_*`` callbacks never raise.

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
