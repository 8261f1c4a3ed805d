"""The HTTP parsers a test can run with: h11 always, httptools (llhttp) when installed."""

from __future__ import annotations

import pytest

from purai_proto import HttpParserName
from purai_proto._http.factory import httptools_available

__all__ = ["HTTPTOOLS_MISSING", "HTTP_PARSERS", "needs_httptools"]

#: Why a test of httptools did not run, said once (see tests/conftest.py).
HTTPTOOLS_MISSING = "httptools is not installed (pip install 'purai[speedups]')"
#: Each parser installed here; httptools is simply left out when it is missing.
HTTP_PARSERS: tuple[HttpParserName, ...] = (
    ("h11", "httptools") if httptools_available() else ("h11",)
)
needs_httptools = pytest.mark.skipif(not httptools_available(), reason=HTTPTOOLS_MISSING)
