"""A tiny HTTP/1.1 client on h11, and the stand-in server run in a task, for its tests.

The client is a few lines of h11 written for the server's tests (not the library's own
client), so that the server is checked against HTTP itself. It keeps each HTTP chunk
of a body apart, to check that the server sends one object per chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import h11
import msgspec

from purai_proto import ChatCompletionChunk, ChunkDecoder
from purai_transports.server import ServerConfig, serve

from .paths import SEED_STREAM

__all__ = [
    "SEED_PROMPT",
    "SEED_TEXT",
    "Address",
    "RawClient",
    "Reply",
    "chat",
    "connect",
    "decode",
    "fetch",
    "running",
    "seed_objects",
    "text_of",
]

SEED_PROMPT = "who are you? answer with 3 words"
SEED_TEXT = "AI language model."
Address = tuple[str, int]


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
    return decoder.feed(SEED_STREAM.read_bytes()) + decoder.close()
