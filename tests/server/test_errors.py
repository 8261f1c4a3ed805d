"""The stand-in server, over real loopback TCP, on asyncio and on trio.

The client here is a few lines of h11 written for these tests (not the library's own
client), so that the server is checked against HTTP itself. It keeps each HTTP chunk
of a body apart, to check that the server sends one object per chunk.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import h11
import msgspec
import pytest

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkDecoder,
    ErrorBody,
    RemoteProtocolError,
)
from purai_transports import cli
from purai_transports.server import BackgroundServer, ServerConfig, serve, server_url
from tests.helpers.paths import ROOT
from tests.helpers.processes import purai_serve

SEED = ROOT / "tests" / "data" / "seed-stream.json"
SEED_PROMPT = "who are you? answer with 3 words"
SEED_TEXT = "AI language model."
Address = tuple[str, int]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_server_bugs(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Fail a test in which the server reported a bug (which it does even when quiet)."""
    yield
    assert "internal error" not in capsys.readouterr().err


# --- a tiny HTTP/1.1 client ------------------------------------------------------------


@dataclass
class Reply:
    """A response as received: its status, headers, and body chunk by chunk."""

    status: int
    headers: dict[str, str]
    pieces: list[bytes] = field(default_factory=list)
    complete: bool = True  # False: the connection closed in the middle of the body

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class RawClient:
    """One HTTP/1.1 connection, driven with h11."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)
        self.chunked = False

    async def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
        *,
        end: bool = True,
    ) -> None:
        fields = [("Host", "127.0.0.1"), *(headers or [])]
        names = {name.lower() for name, _ in fields}
        if body is not None and "transfer-encoding" not in names:
            fields.append(("Content-Length", str(len(body))))
        data = self.h11.send(h11.Request(method=method, target=path, headers=fields)) or b""
        if end:
            data += self.h11.send(h11.Data(data=body)) if body else b""
            data += self.h11.send(h11.EndOfMessage()) or b""
        await self.stream.send(data)

    async def send_rest(self, body: bytes) -> None:
        data = (self.h11.send(h11.Data(data=body)) or b"") + (
            self.h11.send(h11.EndOfMessage()) or b""
        )
        await self.stream.send(data)

    async def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                data = b""
            self.h11.receive_data(data)

    async def receive_head(self, *, informational: bool = False) -> Reply:
        while True:
            event = await self.next_event()
            if isinstance(event, h11.InformationalResponse) and not informational:
                continue
            assert isinstance(event, (h11.Response, h11.InformationalResponse)), event
            headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            self.chunked = headers.get("transfer-encoding") == "chunked"
            return Reply(status=event.status_code, headers=headers)

    async def receive_piece(self) -> bytes | None:
        """One HTTP chunk of the body (any read when not chunked); None at its end.

        Raises:
            h11.RemoteProtocolError: The connection closed in the middle of the body.
        """
        piece = bytearray()
        while True:
            event = await self.next_event()
            if isinstance(event, h11.Data):
                piece += event.data
                if event.chunk_end or not self.chunked:
                    return bytes(piece)
            else:
                assert isinstance(event, h11.EndOfMessage), event
                assert not piece
                return None

    async def receive(self) -> Reply:
        reply = await self.receive_head()
        while True:
            try:
                piece = await self.receive_piece()
            except h11.RemoteProtocolError:
                reply.complete = False
                return reply
            if piece is None:
                break
            reply.pieces.append(piece)
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        return reply

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> Reply:
        await self.send(method, path, body, headers)
        return await self.receive()


@contextlib.asynccontextmanager
async def connect(address: Address) -> AsyncIterator[RawClient]:
    stream = await anyio.connect_tcp(*address)
    async with stream:
        yield RawClient(stream)


async def fetch(
    address: Address,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Reply:
    async with connect(address) as client:
        return await client.request(method, path, body, headers)


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[Address]:
    options.setdefault("quiet", True)
    async with anyio.create_task_group() as tg:
        address = await tg.start(serve, ServerConfig(**options))
        yield address
        tg.cancel_scope.cancel()


def chat(prompt: str = SEED_PROMPT, *, stream: bool | None = True, **fields: Any) -> bytes:
    body: dict[str, Any] = {
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "user", "content": prompt}],
        **fields,
    }
    if stream is not None:
        body["stream"] = stream
    return msgspec.json.encode(body)


def decode(body: bytes, framing: Any = "auto") -> list[Any]:
    decoder = ChunkDecoder(framing=framing)
    return decoder.feed(body) + decoder.close()


def text_of(values: list[Any]) -> str:
    return "".join(v.text for v in values if isinstance(v, ChatCompletionChunk))


def seed_objects() -> list[Any]:
    decoder = ChunkDecoder(Any)
    return decoder.feed(SEED.read_bytes()) + decoder.close()


# --- PurAI's stream, as the seed shows it ----------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("company", ["openai", "third-party", "anthropic", "auto"])
async def test_seed_stream(company: str) -> None:
    async with running() as address:
        reply = await fetch(address, "POST", f"/{company}/chat/completions", chat())
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["transfer-encoding"] == "chunked"
    # One HTTP chunk per object, and the objects are the seed's, field for field.
    assert [msgspec.json.decode(piece) for piece in reply.pieces] == seed_objects()
    assert text_of(decode(reply.body, "concatenated")) == SEED_TEXT


@pytest.mark.anyio
async def test_sse_on_v1() -> None:
    async with running() as address:
        reply = await fetch(address, "POST", "/v1/chat/completions", chat())
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.body.endswith(b"data: [DONE]\n\n")
    assert all(piece.startswith(b"data: ") for piece in reply.pieces)
    chunks = decode(reply.body, "sse")
    assert text_of(chunks) == SEED_TEXT
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.provider is None for c in chunks)
    assert b"calledFunctions" not in reply.body


@pytest.mark.anyio
async def test_ndjson() -> None:
    async with running(ndjson=True) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
    assert reply.headers["content-type"] == "application/x-ndjson"
    assert all(piece.endswith(b"\n") and piece.count(b"\n") == 1 for piece in reply.pieces)
    assert text_of(decode(reply.body, "ndjson")) == SEED_TEXT


@pytest.mark.anyio
async def test_chunk_size_and_hard_text() -> None:
    async with running(chunk_size=1) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat("some code"))
    chunks = decode(reply.body, "concatenated")
    text = text_of(chunks)
    for hard in ("}{", "\\", '"', "\U0001f680"):
        assert hard in text
    assert len(chunks) == len(text)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/openai/chat/completions", "/v1/chat/completions"])
async def test_gzip(path: str) -> None:
    async with running(gzip=True) as address:
        reply = await fetch(address, "POST", path, chat(), [("Accept-Encoding", "gzip")])
    assert reply.headers["content-encoding"] == "gzip"
    # Each HTTP chunk decompresses, on its own, to whole objects: a flush per object.
    inflate = zlib.decompressobj(wbits=31)
    decoder = ChunkDecoder()
    chunks = []
    for piece in reply.pieces[:-1]:
        values = decoder.feed(inflate.decompress(piece))
        assert len(values) == 1
        chunks += values
    chunks += decoder.feed(inflate.decompress(reply.pieces[-1]) + inflate.flush())
    chunks += decoder.close()
    assert inflate.eof
    assert text_of(chunks) == SEED_TEXT


@pytest.mark.anyio
@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br, *;q=0", "deflate"])
async def test_gzip_only_when_accepted(accept: str | None) -> None:
    headers = [] if accept is None else [("Accept-Encoding", accept)]
    async with running(gzip=True) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat(), headers)
    assert "content-encoding" not in reply.headers
    assert text_of(decode(reply.body)) == SEED_TEXT


@pytest.mark.anyio
async def test_gzip_whole_reply() -> None:
    async with running(gzip=True) as address:
        reply = await fetch(address, "GET", "/v1/models", None, [("Accept-Encoding", "x, *")])
    assert reply.headers["content-encoding"] == "gzip"
    assert msgspec.json.decode(zlib.decompress(reply.body, wbits=31))["object"] == "list"


# --- whole replies --------------------------------------------------------------------


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


# --- errors ---------------------------------------------------------------------------


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


# --- faults in the stream -------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/openai/chat/completions", "/v1/chat/completions"])
async def test_error_after(path: str) -> None:
    async with running(error_after=2) as address:
        reply = await fetch(address, "POST", path, chat())
    assert reply.status == 200
    assert reply.complete
    values = decode(reply.body)
    assert len(values) == 3
    assert all(isinstance(v, ChatCompletionChunk) for v in values[:2])
    error = values[2]
    assert isinstance(error, ErrorBody)
    assert "stopped answering" in error.summary
    if path.startswith("/openai"):
        assert error.status == 500


@pytest.mark.anyio
async def test_error_after_past_the_end() -> None:
    async with running(error_after=99) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
    values = decode(reply.body)
    assert text_of(values) == SEED_TEXT
    assert isinstance(values[-1], ErrorBody)


@pytest.mark.anyio
@pytest.mark.parametrize(("cut_after", "whole"), [(0, 0), (2, 2), (99, 3)])
async def test_cut_after(cut_after: int, whole: int) -> None:
    async with running(cut_after=cut_after) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
    assert reply.status == 200
    assert not reply.complete
    # The whole objects, then half of the next one in a chunk of its own.
    assert len(reply.pieces) == whole + 1
    next_object = msgspec.json.encode(seed_objects()[whole])
    assert len(reply.pieces[-1]) == len(next_object) // 2
    decoder = ChunkDecoder(framing="concatenated")
    assert len(decoder.feed(reply.body)) == whole
    with pytest.raises(RemoteProtocolError):
        decoder.close()


@pytest.mark.anyio
async def test_stall_after() -> None:
    async with running(stall_after=1) as address, connect(address) as client:
        await client.send("POST", "/openai/chat/completions", chat())
        head = await client.receive_head()
        assert head.status == 200
        first = await client.receive_piece()
        assert first is not None
        assert text_of(decode(first)) == "AI la"
        with anyio.move_on_after(0.2) as scope:
            await client.receive_piece()
        assert scope.cancelled_caught


@pytest.mark.anyio
async def test_client_leaving_mid_stream_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    async with running(delay=0.01, quiet=False) as address:
        async with connect(address) as client:
            await client.send("POST", "/openai/chat/completions", chat("x" * 150))
            await client.receive_head()
            assert await client.receive_piece()
        # The server goes on serving others.
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
        assert text_of(decode(reply.body)) == SEED_TEXT
    assert "Traceback" not in capsys.readouterr().err


# --- connections ----------------------------------------------------------------------


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


# --- configuration --------------------------------------------------------------------


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


# --- blocking code: BackgroundServer, the command line, OpenAI's client ----------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_background_server(backend: str) -> None:
    server = BackgroundServer(ServerConfig(quiet=True), backend=backend)
    with pytest.raises(RuntimeError):
        server.base_url  # noqa: B018 - the access is the test
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        request = urllib.request.Request(
            f"{server.base_url}/openai/chat/completions", data=chat(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
    assert text_of(decode(body)) == SEED_TEXT
    with pytest.raises(RuntimeError):
        server.port  # noqa: B018


def test_background_server_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = ServerConfig(quiet=True, port=taken.getsockname()[1])
        with pytest.raises(OSError, match="in use"), BackgroundServer(config):
            pass


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--fail-status", "200", "--quiet"]) == 2
    assert "--fail-status must be 400 to 599" in capsys.readouterr().err


def test_cli_reports_startup_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.txt"
    assert cli.main(["serve", "--port", "0", "--quiet", "--reply-file", str(missing)]) == 1
    assert capsys.readouterr().err.startswith("purai: No such file or directory")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("backend", "stop"), [("asyncio", signal.SIGINT), ("trio", signal.SIGTERM)]
)
def test_cli_serve(backend: str, stop: signal.Signals) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    with purai_serve("--backend", backend) as (url, proc):
        result = subprocess.run(
            [
                *(curl, "-sS", "-N", "--max-time", "20", "--data-binary", "@-"),
                *("-H", "Content-Type: application/json", f"{url}/openai/chat/completions"),
            ],
            input=chat(),
            capture_output=True,
            check=True,
        )
        assert text_of(decode(result.stdout)) == SEED_TEXT
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert '"POST /openai/chat/completions" 200 chunks=4' in err
        assert err.endswith("purai: stopped\n")


def test_openai_client() -> None:
    openai = pytest.importorskip("openai")
    messages = [{"role": "user", "content": SEED_PROMPT}]
    config = ServerConfig(quiet=True, api_key="purgpt-test")
    with (
        BackgroundServer(config) as server,
        openai.OpenAI(
            base_url=f"{server.base_url}/v1", api_key="purgpt-test", max_retries=0
        ) as client,
    ):
        stream = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=messages, stream=True
        )
        with stream:
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == SEED_TEXT
        reply = client.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
        assert reply.choices[0].message.content == SEED_TEXT
        assert "gpt-3.5-turbo" in [model.id for model in client.models.list()]
        with (
            openai.OpenAI(
                base_url=f"{server.base_url}/v1", api_key="wrong", max_retries=0
            ) as intruder,
            pytest.raises(openai.AuthenticationError, match="API key"),
        ):
            intruder.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
