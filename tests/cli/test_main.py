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
from tests.helpers.paths import SEED_STREAM
from tests.helpers.processes import purai_serve
from tests.helpers.scripted_replies import streamed_reply
from tests.helpers.servers import ScriptedServer

SEED = SEED_STREAM
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
    # The two chunks before the error, and a fresh line for the shell's prompt.
    assert result.stdout == "AI language model."[:10] + "\n"
    assert result.stderr.startswith("purai: error inside the stream:")
    assert "Traceback" not in result.stderr


def test_chat_without_a_prompt() -> None:
    result = purai("chat", stdin="  \n")
    assert result.returncode == 2
    assert "no prompt" in result.stderr


def test_version() -> None:
    from purai_proto import __version__

    result = purai("--version")
    assert (result.returncode, result.stdout) == (0, f"purai {__version__}\n")


def test_chat_sends_the_options_as_request_fields_and_headers() -> None:
    with ScriptedServer(streamed_reply(["Hi."])) as recording:
        result = purai(
            "chat", "--temperature", "0.2", "hello", "-m", "my-model", "-s", "be brief",
            "--max-tokens", "7", "-H", "X-Trace: 1", "--header", "X-Other:two",
            "--base-url", recording.base_url,
        )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "Hi.\n"), result.stderr
    [seen] = recording.seen
    body = json.loads(seen.body)
    assert body["model"] == "my-model"
    assert (body["temperature"], body["max_tokens"]) == (0.2, 7)
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert (seen.headers["x-trace"], seen.headers["x-other"]) == ("1", "two")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "0", "hi"], "--timeout must be a positive number of seconds, not 0.0"),
        (["-t", "-1", "hi"], "--temperature must be 0 or more, not -1.0"),
        (["-t", "nan", "hi"], "--temperature must be 0 or more, not nan"),
        (["--max-tokens", "0", "hi"], "--max-tokens must be 1 or more, not 0"),
        (["-H", "no colon", "hi"], "--header must be 'Name: value', not 'no colon'"),
        (["--temperature", "0.2", "hi", "--bogus"], "unrecognized arguments: --bogus"),
        (["-t", "warm", "hi"], "argument -t/--temperature: invalid float value: 'warm'"),
    ],
)
def test_chat_option_errors_name_the_option_before_anything_starts(
    args: list[str], message: str
) -> None:
    result = purai("chat", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: purai chat ")  # the subcommand's own usage
    assert result.stderr.endswith(f"purai chat: error: {message}\n")
    assert "stand-in server" not in result.stderr  # refused before it started


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be 0 to 65535, not 70000"),
        (["--delay", "-1"], "--delay must be 0 or more seconds, not -1.0"),
        (["--chunk-size", "0"], "--chunk-size must be at least 1, not 0"),
        (["--fail-status", "200"], "--fail-status must be 400 to 599, not 200"),
        (["--stall-after", "-2"], "--stall-after must not be negative, not -2"),
        (["--reply", "a", "--reply-file", "b"], "argument --reply-file: not allowed with"),
    ],
)
def test_serve_option_errors_name_the_option(args: list[str], message: str) -> None:
    result = purai("serve", "--port", "0", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: purai serve ")
    assert f"purai serve: error: {message}" in result.stderr
    assert "serving" not in result.stderr


def test_serve_reply_file_that_is_not_utf8(tmp_path: Path) -> None:
    file = tmp_path / "reply.txt"
    file.write_bytes(b"\xff")
    result = purai("serve", "--port", "0", "--reply-file", str(file))
    assert result.returncode == 2
    assert f"--reply-file {file} is not UTF-8 text" in result.stderr


def test_serve_reply_file_keeps_its_bytes(tmp_path: Path) -> None:
    file = tmp_path / "reply.txt"
    file.write_bytes("one\r\ntwo\n\u00e9".encode())
    with purai_serve("--quiet", "--reply-file", str(file)) as (url, _):
        result = purai("chat", "--json", "hi", "--base-url", url)
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "one\r\ntwo\n\u00e9"


def test_serve_names_the_address_it_cannot_listen_on() -> None:
    with purai_serve("--quiet") as (url, _):
        port = url.rpartition(":")[2]
        result = purai("serve", "--port", port)
    assert result.returncode == 1
    assert result.stderr == f"purai: Address already in use: 127.0.0.1:{port}\n"


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
