"""The stand-in server's routes: which answer a request gets, and the faults it injects.

What it says comes from :mod:`purai_transports.server._replies`, how a stream is
framed from :class:`~purai_proto.StreamEncoder`, and how the bytes go on the wire from
:mod:`purai_transports.server._wire`; this module routes, applies the configuration
and sends.

Routes:

* ``POST /{openai,third-party,anthropic,auto}/chat/completions``: PurAI's dialect,
  streamed as the seed shows it (objects back to back, ``application/json``), or as
  NDJSON with :attr:`ServerConfig.ndjson`.
* ``POST /v1/chat/completions``: OpenAI's dialect, streamed as server-sent events, so
  OpenAI's own client library works against ``http://HOST:PORT/v1``.
* ``GET /<company>/models`` (PurAI's list) and ``GET /v1/models`` (OpenAI's).

A streamed reply is sent with chunked transfer coding, one HTTP chunk per JSON object,
each written as soon as it is due.

Faults are injected on purpose, to test clients: an error status
(:attr:`~ServerConfig.fail_status`), an error object inside a stream
(:attr:`~ServerConfig.error_after`), a connection closed in the middle of an object
(:attr:`~ServerConfig.cut_after`), and a stream that stops without ending
(:attr:`~ServerConfig.stall_after`).
"""

from __future__ import annotations

import dataclasses
import gzip as gzip_module
import hmac
from typing import Any

import anyio
import msgspec

from purai_proto import ChatRequest, StreamEncoder, StreamFraming, encode_json

from ._config import ServerConfig
from ._connection import Request, ServerConnection
from ._replies import (
    Dialect,
    completion,
    error_body,
    openai_models,
    purai_models,
    reply_text,
    stream_chunks,
    stream_error_body,
)
from ._wire import CONTENT_TYPES, BodyWriter, accepts_gzip, base_headers

__all__ = ["Outcome", "Responder"]

_COMPANIES = frozenset({"openai", "third-party", "anthropic", "auto"})
_RETRY_STATUSES = frozenset({429, 503})
_STREAM_ERROR = "The provider stopped answering in the middle of the reply."
_CHAT_REQUEST = msgspec.json.Decoder(ChatRequest)


@dataclasses.dataclass
class Outcome:
    """What happened to one request, for its log line."""

    status: int = 0
    chunks: int | None = None  # None: not a streamed reply
    note: str = ""


def _route(path: str) -> tuple[str, Dialect, str] | None:
    """``(what, dialect, company)`` for a known path, else ``None``."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "" and parts[2] == "models":
        company = parts[1]
        if company == "v1":
            return "models", "openai", company
        if company in _COMPANIES:
            return "models", "purai", company
    if len(parts) == 4 and parts[0] == "" and parts[2:] == ["chat", "completions"]:
        company = parts[1]
        if company == "v1":
            return "chat", "openai", company
        if company in _COMPANIES:
            return "chat", "purai", company
    return None


def _authorized(request: Request, api_key: str) -> bool:
    value = request.header(b"authorization")
    if value is None:
        return False
    scheme, _, token = value.partition(b" ")
    # A constant-time comparison, so the key cannot be guessed byte by byte from timing.
    return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), api_key.encode())


class Responder:
    """Answers one request on a connection."""

    def __init__(
        self,
        conn: ServerConnection,
        request: Request,
        config: ServerConfig,
        fixed_reply: str | None,
        outcome: Outcome,
    ) -> None:
        self.conn = conn
        self.request = request
        self.config = config
        self.fixed_reply = fixed_reply
        self.outcome = outcome
        self.gzip = config.gzip and accepts_gzip(request.header(b"accept-encoding"))

    async def respond(self) -> bool:
        """Send the reply; True when the connection can serve another request."""
        request, config = self.request, self.config
        route = _route(request.path)
        if route is None:
            return await self.error(404, f"Unknown endpoint {request.path}", "purai")
        what, dialect, company = route
        method = "POST" if what == "chat" else "GET"
        if request.method != method:
            return await self.error(
                405,
                f"{request.method} is not allowed here; use {method}",
                dialect,
                [(b"Allow", method.encode())],
            )
        if config.api_key is not None and not _authorized(request, config.api_key):
            return await self.error(
                401,
                "Invalid API key. Send it as 'Authorization: Bearer <key>'.",
                dialect,
                [(b"WWW-Authenticate", b"Bearer")],
            )
        if what == "models":
            models: Any = openai_models() if dialect == "openai" else purai_models(company)
            return await self.whole(200, encode_json(models))
        if config.fail_status is not None:
            status = config.fail_status
            retry = [(b"Retry-After", b"1")] if status in _RETRY_STATUSES else []
            return await self.error(status, None, dialect, retry)
        try:
            chat = _CHAT_REQUEST.decode(request.body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            return await self.error(400, f"Invalid request body: {exc}", dialect)
        text = self.fixed_reply if self.fixed_reply is not None else reply_text(chat)
        if chat.stream is True:
            return await self.stream(chat, text, dialect)
        return await self.whole(200, encode_json(completion(chat, text, dialect)))

    async def error(
        self,
        status: int,
        message: str | None,
        dialect: Dialect,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> bool:
        body = encode_json(error_body(status, message, dialect=dialect))
        return await self.whole(status, body, headers)

    async def whole(
        self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> bool:
        """Send a reply whose body is known in full, with ``Content-Length``."""
        if self.gzip:
            # mtime=0: the same reply is the same bytes, every time.
            body = gzip_module.compress(body, mtime=0)
        fields = base_headers(b"application/json", self.gzip) + (headers or [])
        fields.append((b"Content-Length", str(len(body)).encode()))
        self.outcome.status = status
        await self.conn.send_head(status, fields)
        await self.conn.send_data(body)
        return await self.conn.finish()

    async def stream(self, chat: ChatRequest, text: str, dialect: Dialect) -> bool:
        """Send a streamed reply, one HTTP chunk per object, faults included."""
        config, outcome = self.config, self.outcome
        chunks = stream_chunks(chat, text, dialect=dialect, chunk_size=config.chunk_size)
        framing: StreamFraming = (
            "sse" if dialect == "openai" else "ndjson" if config.ndjson else "concatenated"
        )
        encoder = StreamEncoder(framing)
        body = BodyWriter(self.conn, self.gzip)
        fields = base_headers(CONTENT_TYPES[framing], self.gzip)
        fields.append((b"Cache-Control", b"no-cache"))
        outcome.status, outcome.chunks = 200, 0
        await self.conn.send_head(200, fields)
        await body.write(encoder.start())

        count = len(chunks)
        # Faults past the end of the reply happen at its end; a cut needs an object.
        error_at = None if config.error_after is None else min(config.error_after, count)
        stall_at = None if config.stall_after is None else min(config.stall_after, count)
        cut_at = None if config.cut_after is None else min(config.cut_after, max(count - 1, 0))
        for index in range(count + 1):
            if index == error_at:
                await body.write(encoder.encode(stream_error_body(_STREAM_ERROR, dialect=dialect)))
                outcome.note = "error object sent"
                break
            if index == cut_at:
                if index < count:
                    data = encoder.encode(chunks[index])
                    await body.write(data[: len(data) // 2])
                outcome.note = "cut mid-object"
                return False
            if index == stall_at:
                outcome.note = "stalled"
                await self.conn.wait_until_client_leaves()
                return False
            if index == count:
                break
            if config.delay:
                await anyio.sleep(config.delay)
            await body.write(encoder.encode(chunks[index]))
            outcome.chunks = index + 1
        return await body.end(encoder.end())
