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

__all__ = ["HttpParserName", "httptools_available", "new_parser"]

#: The ``http_parser`` argument of :class:`~purai_proto.ClientConnection`.
HttpParserName: TypeAlias = Literal["auto", "h11", "httptools"]


def httptools_available() -> bool:
    """True when httptools can be imported (``http_parser="auto"`` then uses it)."""
    return load_httptools() is not None


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
    httptools = load_httptools()
    if httptools is not None:
        return HttptoolsResponseParser(max_header_size, httptools)
    if name == "httptools":
        raise LocalProtocolError(
            "http_parser='httptools' needs httptools: pip install 'purai[speedups]'"
        )
    return H11ResponseParser(max_header_size)
