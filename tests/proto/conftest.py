"""Fixtures of the sans-IO core's tests."""

from __future__ import annotations

import pytest

from purai_proto import HttpParserName
from tests.helpers.parsers import HTTP_PARSERS


@pytest.fixture(scope="module", params=HTTP_PARSERS)
def http_parser(request: pytest.FixtureRequest) -> HttpParserName:
    """Each HTTP parser installed: a test that takes it runs once with h11 and once with
    httptools (llhttp), or with h11 alone when httptools is missing.

    Module-scoped, so that hypothesis's tests can take it too.
    """
    parser: HttpParserName = request.param
    return parser
