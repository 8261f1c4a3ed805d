"""The stand-in server's configuration: the values ``ServerConfig`` refuses, its URL."""

from __future__ import annotations

from typing import Any

import pytest

from purai_transports.server import ServerConfig, server_url


@pytest.mark.parametrize(
    "options",
    [
        {"port": -1},
        {"delay": -1.0},
        {"chunk_size": 0},
        {"fail_status": 200},
        {"error_after": -1},
        {"reply": "a", "reply_file": "b"},
    ],
)
def test_bad_config(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        ServerConfig(**options)


def test_server_url() -> None:
    assert server_url("127.0.0.1", 80) == "http://127.0.0.1:80"
    assert server_url("::1", 80) == "http://[::1]:80"
