"""The stand-in server's error replies: API key, bad JSON, paths, statuses, sizes.

Over real loopback TCP, on asyncio and on trio, with the h11 client of
:mod:`tests.helpers.raw_client` (not the library's own), which keeps each HTTP chunk
apart.
"""

from __future__ import annotations

import contextlib

import anyio
import anyio.abc
import msgspec
import pytest

from purai_proto import ErrorBody
from tests.helpers.raw_client import SEED_TEXT, chat, decode, fetch, running, text_of


@pytest.mark.anyio
async def test_api_key() -> None:
    path = "/openai/chat/completions"
    async with running(api_key="purgpt-secret") as address:
        missing = await fetch(address, "POST", path, chat())
        wrong = await fetch(address, "POST", path, chat(), [("Authorization", "Bearer nope")])
        openai = await fetch(address, "POST", "/v1/chat/completions", chat())
        right = await fetch(
            address, "POST", path, chat(), [("Authorization", "bearer purgpt-secret")]
        )
    for reply in (missing, wrong):
        assert reply.status == 401
        assert reply.headers["www-authenticate"] == "Bearer"
        body = msgspec.json.decode(reply.body, type=ErrorBody)
        assert body.status == 401
        assert "API key" in body.summary
    assert openai.status == 401
    assert "API key" in openai.json()["error"]["message"]
    assert right.status == 200
    assert text_of(decode(right.body)) == SEED_TEXT


@pytest.mark.anyio
async def test_bad_json_is_400() -> None:
    async with running() as address:
        purai = await fetch(address, "POST", "/openai/chat/completions", b'{"messages": [')
        wrong_type = await fetch(address, "POST", "/auto/chat/completions", b'{"messages": 1}')
        openai = await fetch(address, "POST", "/v1/chat/completions", b"\xff")
    for reply in (purai, wrong_type):
        assert reply.status == 400
        body = msgspec.json.decode(reply.body, type=ErrorBody)
        assert body.status == 400
        assert body.summary.startswith("Invalid request body")
    assert openai.status == 400
    assert openai.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("POST", "/nope", 404, None),
        ("GET", "/", 404, None),
        ("POST", "/openai/chat/completions/extra", 404, None),
        ("GET", "/nobody/models", 404, None),
        ("GET", "/openai/chat/completions", 405, "POST"),
        ("DELETE", "/v1/chat/completions", 405, "POST"),
        ("POST", "/v1/models", 405, "GET"),
    ],
)
async def test_unknown_path_and_wrong_method(
    method: str, path: str, status: int, allow: str | None
) -> None:
    async with running() as address:
        reply = await fetch(address, method, path, chat() if method == "POST" else None)
    assert reply.status == status
    assert reply.headers.get("allow") == allow
    assert msgspec.json.decode(reply.body, type=ErrorBody).summary


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "retry_after", "message"),
    [
        (503, "1", "Model is not available at the moment."),
        (429, "1", "Too many requests"),
        (500, None, "All of our providers returned with errors"),
        (502, None, "Bad Gateway"),
    ],
)
async def test_fail_status(status: int, retry_after: str | None, message: str) -> None:
    async with running(fail_status=status) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
        models = await fetch(address, "GET", "/openai/models")
    assert reply.status == status
    assert reply.headers.get("retry-after") == retry_after
    body = msgspec.json.decode(reply.body, type=ErrorBody)
    assert body.status == status
    assert body.summary.startswith(message)
    assert models.status == 200  # only chat requests fail


@pytest.mark.anyio
async def test_body_too_large() -> None:
    big = chat("x" * 2000)
    async with running(max_body_size=1000) as address:
        announced = await fetch(address, "POST", "/openai/chat/completions", big)
        chunked = await fetch(
            address, "POST", "/openai/chat/completions", big, [("Transfer-Encoding", "chunked")]
        )
        small = await fetch(address, "POST", "/openai/chat/completions", chat())
    for reply in (announced, chunked):
        assert reply.status == 413
        assert reply.headers["connection"] == "close"
        assert msgspec.json.decode(reply.body, type=ErrorBody).status == 413
    assert small.status == 200


@pytest.mark.anyio
async def test_head_too_large() -> None:
    async with running(max_head_size=4096) as address:
        reply = await fetch(address, "GET", "/v1/models", None, [("X-Big", "x" * 8000)])
    assert reply.status == 431


@pytest.mark.anyio
async def test_malformed_request() -> None:
    async with running() as address:
        stream = await anyio.connect_tcp(*address)
        async with stream:
            await stream.send(b"NOT AN HTTP REQUEST\r\n\r\n")
            received = bytearray()
            with contextlib.suppress(anyio.EndOfStream):
                while True:
                    received += await stream.receive()
    assert received.startswith(b"HTTP/1.1 400 ")
