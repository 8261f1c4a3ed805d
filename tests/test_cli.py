"""The ``purai`` command line, run as a subprocess as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from purai_transports.server import BackgroundServer, ServerConfig
from tests.processes import purai_serve

SEED = Path(__file__).parent / "data" / "seed-stream.json"
QUESTION = "who are you? answer with 3 words"


def purai(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PURAI_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "purai_transports.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerConfig(quiet=True, api_key="sk-test-secret")) as running:
        yield running


@pytest.mark.parametrize("transport", ["blocking", "asyncio", "trio"])
def test_chat_with_the_built_in_server(transport: str) -> None:
    result = purai("chat", QUESTION, "--transport", transport)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "AI language model.\n"
    assert "built-in stand-in server at http://127.0.0.1:" in result.stderr


def test_chat_reads_the_prompt_from_stdin_and_asks_for_a_whole_reply() -> None:
    result = purai("chat", "--no-stream", stdin=QUESTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "AI language model.\n"


@pytest.mark.parametrize("transport", ["blocking", "asyncio", "trio"])
def test_chat_json_prints_the_chunks(server: BackgroundServer, transport: str) -> None:
    result = purai(
        "chat", QUESTION, "--json", "--transport", transport, "--base-url", server.base_url,
        env={"PURAI_API_KEY": "sk-test-secret"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "AI language model."
    assert all(c["provider"] == "Churchless" for c in chunks)
    assert result.stderr == ""


def test_chat_against_the_openai_route(server: BackgroundServer) -> None:
    result = purai(
        "chat", "hello", "--path", "/v1/chat/completions", "--api-key", "sk-test-secret",
        "--base-url", server.base_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout


def test_chat_wrong_key_is_one_line_without_the_key(server: BackgroundServer) -> None:
    result = purai("chat", "hi", "--base-url", server.base_url, "--api-key", "sk-wrong-key")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "401" in result.stderr
    assert "sk-wrong-key" not in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_refused_is_one_line(unused_port: int) -> None:
    result = purai("chat", "hi", "--base-url", f"http://127.0.0.1:{unused_port}")
    assert result.returncode == 1
    assert result.stderr.startswith("purai: cannot connect to 127.0.0.1:")
    assert result.stderr.count("\n") == 1


def test_chat_server_error_is_one_line() -> None:
    with BackgroundServer(ServerConfig(quiet=True, error_after=2)) as failing:
        result = purai("chat", QUESTION, "--base-url", failing.base_url)
    assert result.returncode == 1
    assert result.stdout == "AI language model."[:10]  # the two chunks before the error
    assert result.stderr.startswith("purai: error inside the stream:")
    assert "Traceback" not in result.stderr


def test_chat_without_a_prompt() -> None:
    result = purai("chat", stdin="  \n")
    assert result.returncode == 2
    assert "no prompt" in result.stderr


def test_decode_prints_the_text_and_the_objects() -> None:
    result = purai("decode", str(SEED))
    assert (result.returncode, result.stdout) == (0, "AI language model.\n")
    result = purai("decode", "--json", "-", stdin=SEED.read_text())
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 4


def test_decode_bad_input_is_one_line() -> None:
    result = purai("decode", "-", stdin='{"a": 1}{"b": ')
    assert result.returncode == 1
    assert result.stderr.startswith("purai: stream ended inside a value")


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_client_streams_from_purai_serve() -> None:
    # The server as users start it, a separate process; each client as users use it.
    import anyio
    import trio

    from purai_transports.anyio import AsyncClient
    from purai_transports.blocking import Client
    from purai_transports.trio import TrioClient

    messages = [{"role": "user", "content": QUESTION}]

    async def stream_async(client_class: Any, url: str) -> str:
        async with client_class(url) as client, client.stream(messages=messages) as stream:
            return "".join([chunk.text async for chunk in stream])

    with purai_serve("--quiet") as (url, _):
        with Client(url) as client, client.stream(messages=messages) as stream:
            assert "".join(chunk.text for chunk in stream) == "AI language model."
        for backend in ("asyncio", "trio"):
            text = anyio.run(stream_async, AsyncClient, url, backend=backend)
            assert text == "AI language model."
        assert trio.run(stream_async, TrioClient, url) == "AI language model."
