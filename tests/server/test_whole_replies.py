"""The stand-in server's whole replies: completions, the model lists, a fixed reply.

Over real loopback TCP, on asyncio and on trio, with the h11 client of
:mod:`tests.helpers.raw_client` (not the library's own), which keeps each HTTP chunk
apart.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from purai_proto import ChatCompletion
from tests.helpers.raw_client import SEED_TEXT, chat, decode, fetch, running, text_of


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, None])
async def test_non_streamed(stream: bool | None) -> None:
    async with running() as address:
        purai = await fetch(address, "POST", "/openai/chat/completions", chat(stream=stream))
        openai = await fetch(
            address, "POST", "/v1/chat/completions?builtInFunctions=false", chat(stream=stream)
        )
    assert purai.status == openai.status == 200
    assert purai.headers["content-length"] == str(len(purai.body))
    completion = msgspec.json.decode(purai.body, type=ChatCompletion)
    assert completion.text == SEED_TEXT
    assert completion.provider == "Churchless"
    assert completion.choices[0].finish_reason == "stop"
    raw = openai.json()
    assert raw["object"] == "chat.completion"
    assert raw["choices"][0]["message"] == {"role": "assistant", "content": SEED_TEXT}
    assert "provider" not in raw


@pytest.mark.anyio
async def test_models() -> None:
    async with running() as address:
        purai = await fetch(address, "GET", "/anthropic/models")
        openai = await fetch(address, "GET", "/v1/models")
    assert purai.status == openai.status == 200
    models = purai.json()
    assert models
    assert all(
        set(m) == {"id", "owner", "endpoints", "maxTokens", "freeLimitPerDay", "available"}
        for m in models
    )
    assert all("/anthropic/chat/completions" in m["endpoints"] for m in models)
    listed = openai.json()
    assert listed["object"] == "list"
    assert {"gpt-3.5-turbo", "claude-2"} <= {m["id"] for m in listed["data"]}
    assert all(set(m) == {"id", "object", "created", "owned_by"} for m in listed["data"])


@pytest.mark.anyio
async def test_fixed_reply_and_reply_file(tmp_path: Path) -> None:
    file = tmp_path / "reply.txt"
    file.write_text("from a file: }{ \u00e9", encoding="utf-8")
    async with running(reply='fixed "}{" \\') as address:
        fixed = await fetch(address, "POST", "/openai/chat/completions", chat())
    async with running(reply_file=file) as address:
        from_file = await fetch(address, "POST", "/v1/chat/completions", chat(stream=False))
    assert text_of(decode(fixed.body)) == 'fixed "}{" \\'
    assert msgspec.json.decode(from_file.body, type=ChatCompletion).text == file.read_text("utf-8")
