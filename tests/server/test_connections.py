"""The stand-in server's connections: keep-alive, close, 100-continue, many, its log.

Over real loopback TCP, on asyncio and on trio, with the h11 client of
:mod:`tests.helpers.raw_client` (not the library's own), which keeps each HTTP chunk
apart.
"""

from __future__ import annotations

import re

import anyio
import anyio.abc
import msgspec
import pytest

from purai_proto import ChatCompletion
from tests.helpers.raw_client import (
    SEED_TEXT,
    Address,
    chat,
    connect,
    decode,
    fetch,
    running,
    text_of,
)


@pytest.mark.anyio
async def test_keep_alive() -> None:
    async with running() as address, connect(address) as client:
        first = await client.request("POST", "/openai/chat/completions", chat())
        second = await client.request("POST", "/v1/chat/completions", chat(stream=False))
        missing = await client.request("GET", "/nope")
        third = await client.request("GET", "/openai/models")
    assert text_of(decode(first.body)) == SEED_TEXT
    assert msgspec.json.decode(second.body, type=ChatCompletion).text == SEED_TEXT
    assert missing.status == 404
    assert third.status == 200


@pytest.mark.anyio
async def test_connection_close_is_honoured() -> None:
    async with running() as address, connect(address) as client:
        reply = await client.request("GET", "/v1/models", None, [("Connection", "close")])
        assert reply.status == 200
        with pytest.raises(anyio.EndOfStream):
            await client.stream.receive()


@pytest.mark.anyio
async def test_expect_100_continue() -> None:
    async with running() as address, connect(address) as client:
        body = chat()
        await client.send(
            "POST", "/openai/chat/completions", body, [("Expect", "100-continue")], end=False
        )
        informational = await client.receive_head(informational=True)
        assert informational.status == 100
        await client.send_rest(body)
        reply = await client.receive()
    assert text_of(decode(reply.body)) == SEED_TEXT


@pytest.mark.anyio
async def test_fifty_concurrent_clients() -> None:
    texts: list[str] = []

    async def one(address: Address, index: int) -> None:
        prompt = f"client {index}"
        async with connect(address) as client:
            for _ in range(2):
                reply = await client.request("POST", "/openai/chat/completions", chat(prompt))
                texts.append(text_of(decode(reply.body)))

    async with running(delay=0.001, chunk_size=20) as address, anyio.create_task_group() as tg:
        for index in range(50):
            tg.start_soon(one, address, index)
    assert len(texts) == 100
    assert sorted(set(texts)) == sorted(
        {
            f'You said: "client {i}". I am the purai stand-in server, so I only repeat it.'
            for i in range(50)
        }
    )


@pytest.mark.anyio
async def test_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    async with running(quiet=False) as address:
        await fetch(address, "POST", "/openai/chat/completions", chat())
        await fetch(address, "GET", "/v1/models")
    err = capsys.readouterr().err
    assert re.search(r'"POST /openai/chat/completions" 200 chunks=4 \d+\.\d{3}s', err)
    assert '"GET /v1/models" 200 chunks=-' in err


@pytest.mark.anyio
async def test_quiet_logs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    async with running() as address:
        await fetch(address, "GET", "/v1/models")
    assert capsys.readouterr().err == ""


@pytest.mark.anyio
async def test_listen_on_every_interface() -> None:
    async with running(host="0.0.0.0") as (host, port):
        assert host == "127.0.0.1"
        assert port > 0
        assert (await fetch((host, port), "GET", "/v1/models")).status == 200
