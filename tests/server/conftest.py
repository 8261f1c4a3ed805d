"""Fixtures of the stand-in server's tests: both event loops, and no server bug."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_server_bugs(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Fail a test in which the server reported a bug (which it does even when quiet)."""
    yield
    assert "internal error" not in capsys.readouterr().err
