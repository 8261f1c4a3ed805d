"""HTTP/1.1 on the wire: the request a connection writes, the parsers that read replies.

* :mod:`.request`: the request head and body, every value checked.
* :mod:`.parser`: what a response parser hands back (heads, body pieces, the end),
  its error and its protocol.
* :mod:`.h11_parser` and :mod:`.llhttp_parser`: the two parsers, h11 and httptools
  (llhttp, in C); :mod:`.llhttp_binding` loads httptools and collects its callbacks,
  :mod:`.fields` checks the header fields llhttp reads as h11 would.
* :mod:`.factory`: which parser a connection gets.
"""

from .factory import HttpParserName, check_http_parser, httptools_available, new_parser
from .parser import END, ParseError, ResponseHead, ResponseParser
from .request import (
    DEFAULT_PATH,
    HeadersArg,
    check_headers,
    check_host,
    check_request,
    request_head_and_body,
)

__all__ = [
    "DEFAULT_PATH",
    "END",
    "HeadersArg",
    "HttpParserName",
    "ParseError",
    "ResponseHead",
    "ResponseParser",
    "check_headers",
    "check_host",
    "check_http_parser",
    "check_request",
    "httptools_available",
    "new_parser",
    "request_head_and_body",
]
