"""The parser a connection reads with: h11, or httptools (llhttp) when it is installed.

Why two parsers
---------------
h11 is the default: pure Python, well kept, and strict where it matters. It also pays
a regular expression, an event object and a state machine step for every HTTP chunk,
and chat servers send one chunk per streamed object: measured, h11's framing took
4.3 of the blocking client's 6.9 µs per chunk, where httptools (llhttp, in C) frames
the same bytes in 0.17 µs; with it the client takes 2.7 µs per chunk (see
``docs/benchmarks.md``). So
:class:`~purai_proto._http.llhttp_parser.HttptoolsResponseParser` is an optional
accelerator, used when httptools can be imported (``pip install 'purai[speedups]'``).
Both give the same parts for the same bytes, cut however
(:mod:`purai_proto._http.llhttp_parser` says how).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from .._errors import LocalProtocolError
from .h11_parser import H11ResponseParser
from .llhttp_binding import load_httptools
from .llhttp_parser import HttptoolsResponseParser
from .parser import ResponseParser

__all__ = ["HttpParserName", "check_http_parser", "httptools_available", "new_parser"]

#: The ``http_parser`` argument of :class:`~purai_proto.ClientConnection`.
HttpParserName: TypeAlias = Literal["auto", "h11", "httptools"]


def httptools_available() -> bool:
    """True when httptools can be imported (``http_parser="auto"`` then uses it)."""
    return load_httptools() is not None


def check_http_parser(name: str) -> None:
    """Refuse what :func:`new_parser` would refuse, without making a parser.

    A client checks its ``http_parser`` argument when it is made, but imports
    httptools only for its first connection: for ``"auto"`` and ``"h11"`` this imports
    nothing (making a whole connection to check the name cost a new client 3 ms).

    Raises:
        LocalProtocolError: An unknown name, or ``"httptools"`` when it is not
            installed.
    """
    if name not in ("auto", "h11", "httptools"):
        raise LocalProtocolError(f"http_parser must be 'auto', 'h11' or 'httptools', not {name!r}")
    if name == "httptools" and load_httptools() is None:
        raise LocalProtocolError(
            "http_parser='httptools' needs httptools: pip install 'purai[speedups]'"
        )


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
    check_http_parser(name)
    httptools = None if name == "h11" else load_httptools()
    if httptools is not None:
        return HttptoolsResponseParser(max_header_size, httptools)
    return H11ResponseParser(max_header_size)
