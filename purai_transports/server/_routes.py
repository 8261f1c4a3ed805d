"""The stand-in PurAI server: a real HTTP/1.1 server for tests, demos and ``purai chat``.

Theory of operation
-------------------
PurAI is shut down, so this server plays it. It runs on anyio (so on asyncio and on
trio) with h11 doing HTTP/1.1, one task per connection and any number of requests per
connection (keep-alive). What it says comes from
:mod:`purai_transports.server._replies` and how it is framed from
:class:`~purai_proto.StreamEncoder`; this module only routes, applies the
configuration and moves the bytes.

Routes:

* ``POST /{openai,third-party,anthropic,auto}/chat/completions``: PurAI's dialect,
  streamed as the seed shows it (objects back to back, ``application/json``), or as
  NDJSON with :attr:`ServerConfig.ndjson`.
* ``POST /v1/chat/completions``: OpenAI's dialect, streamed as server-sent events, so
  OpenAI's own client library works against ``http://HOST:PORT/v1``.
* ``GET /<company>/models`` (PurAI's list) and ``GET /v1/models`` (OpenAI's).

A streamed reply is sent with chunked transfer coding, one HTTP chunk per JSON object,
each written as soon as it is due. With :attr:`ServerConfig.gzip` (and a client that
accepts gzip) the body is compressed as it goes, with a sync flush after each object
so that compression never holds an object back.

Faults are injected on purpose, to test clients: an error status
(:attr:`~ServerConfig.fail_status`), an error object inside a stream
(:attr:`~ServerConfig.error_after`), a connection closed in the middle of an object
(:attr:`~ServerConfig.cut_after`), and a stream that stops without ending
(:attr:`~ServerConfig.stall_after`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import functools
import gzip as gzip_module
import hmac
import ipaddress
import math
import os
import sys
import time
import traceback
import zlib
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import msgspec
from anyio.abc import SocketAttribute

from purai_proto import ChatRequest, StreamEncoder, StreamFraming, __version__, encode_json

from ._connection import BadRequest, ClientGone, Request, ServerConnection
from ._replies import (
    DEFAULT_CHUNK_SIZE,
    Dialect,
    completion,
    error_body,
    openai_models,
    purai_models,
    reply_text,
    stream_chunks,
    stream_error_body,
)

__all__ = ["BackgroundServer", "ServerConfig", "serve", "server_url"]

_COMPANIES = frozenset({"openai", "third-party", "anthropic", "auto"})
_CONTENT_TYPES: dict[StreamFraming, bytes] = {
    "concatenated": b"application/json",
    "sse": b"text/event-stream; charset=utf-8",
    "ndjson": b"application/x-ndjson",
    "json-array": b"application/json",
}
_SERVER = f"purai-stand-in/{__version__}".encode()
_RETRY_STATUSES = frozenset({429, 503})
_STREAM_ERROR = "The provider stopped answering in the middle of the reply."
_CHAT_REQUEST = msgspec.json.Decoder(ChatRequest)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """How the stand-in server behaves.

    Attributes:
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one (see :func:`serve`).
        delay: Seconds to wait before each streamed chunk.
        chunk_size: Characters of text per streamed chunk (the seed's is 5).
        gzip: Compress replies (``Content-Encoding: gzip``) for clients whose
            ``Accept-Encoding`` allows it, flushing after each streamed object.
        ndjson: Stream PurAI's routes as NDJSON (``application/x-ndjson``) instead
            of objects back to back. ``/v1`` always streams server-sent events.
        api_key: When set, every request needs ``Authorization: Bearer <api_key>``
            and gets 401 without it.
        reply: The text of every reply, instead of one derived from the prompt.
        reply_file: A UTF-8 file whose text is every reply, read once at start,
            byte for byte (line endings as they are).
        fail_status: Answer every chat request with this status (400 to 599) and an
            error body; 429 and 503 come with ``Retry-After: 1``.
        error_after: Stream this many chunks, then an error object
            (``{"status": 500, "error": {"message", "records"}}``), then end.
        cut_after: Stream this many chunks, then half of the next object, then close
            the connection without ending the body. At most the last object is cut.
        stall_after: Stream this many chunks, then send nothing more while keeping
            the connection open, until the client goes away.
        quiet: Log nothing for requests (a bug in the server is still reported).
        max_head_size: The largest request head accepted, in bytes (431 beyond).
        max_body_size: The largest request body accepted, in bytes (413 beyond).
    """

    host: str = "127.0.0.1"
    port: int = 0
    delay: float = 0.0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    gzip: bool = False
    ndjson: bool = False
    api_key: str | None = None
    reply: str | None = None
    reply_file: str | os.PathLike[str] | None = None
    fail_status: int | None = None
    error_after: int | None = None
    cut_after: int | None = None
    stall_after: int | None = None
    quiet: bool = False
    max_head_size: int = 16 * 1024
    max_body_size: int = 1024 * 1024

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidSetting("port", f"must be 0 to 65535, not {self.port}")
        if not (self.delay >= 0 and math.isfinite(self.delay)):
            raise InvalidSetting("delay", f"must be 0 or more seconds, not {self.delay}")
        if self.chunk_size < 1:
            raise InvalidSetting("chunk_size", f"must be at least 1, not {self.chunk_size}")
        if self.reply is not None and self.reply_file is not None:
            raise ValueError("give reply or reply_file, not both")
        if self.fail_status is not None and not 400 <= self.fail_status <= 599:
            raise InvalidSetting("fail_status", f"must be 400 to 599, not {self.fail_status}")
        for name in ("error_after", "cut_after", "stall_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidSetting(name, f"must not be negative, not {value}")
        if self.max_head_size < 1:
            raise InvalidSetting("max_head_size", f"must be positive, not {self.max_head_size}")
        if self.max_body_size < 0:
            raise InvalidSetting("max_body_size", f"must not be negative, not {self.max_body_size}")


class InvalidSetting(ValueError):
    """A :class:`ServerConfig` value out of range, naming the setting, so that the
    command line can say which of its options was wrong.

    Attributes:
        setting: The field of :class:`ServerConfig`, e.g. ``"chunk_size"``.
        problem: What is wrong with its value, e.g. ``"must be at least 1, not 0"``.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}")
        self.setting = setting
        self.problem = problem


# --- one request ----------------------------------------------------------------------


@dataclasses.dataclass
class _Outcome:
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


def _accepts_gzip(value: bytes | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110, section 12.5.3)."""
    if value is None:
        return False
    weights: dict[bytes, float] = {}
    for item in value.split(b","):
        coding, *params = item.split(b";")
        weight = 1.0
        for param in params:
            key, _, number = param.partition(b"=")
            if key.strip().lower() == b"q":
                try:
                    weight = float(number)
                except ValueError:
                    weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in (b"gzip", b"x-gzip", b"*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def _authorized(request: Request, api_key: str) -> bool:
    value = request.header(b"authorization")
    if value is None:
        return False
    scheme, _, token = value.partition(b" ")
    # A constant-time comparison, so the key cannot be guessed byte by byte from timing.
    return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), api_key.encode())


def _base_headers(content_type: bytes, compressed: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"Server", _SERVER),
        (b"Date", email.utils.formatdate(usegmt=True).encode()),
        (b"Content-Type", content_type),
    ]
    if compressed:
        headers += [(b"Content-Encoding", b"gzip"), (b"Vary", b"Accept-Encoding")]
    return headers


class _Responder:
    """Answers one request on a connection."""

    def __init__(
        self,
        conn: ServerConnection,
        request: Request,
        config: ServerConfig,
        fixed_reply: str | None,
        outcome: _Outcome,
    ) -> None:
        self.conn = conn
        self.request = request
        self.config = config
        self.fixed_reply = fixed_reply
        self.outcome = outcome
        self.gzip = config.gzip and _accepts_gzip(request.header(b"accept-encoding"))

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
        fields = _base_headers(b"application/json", self.gzip) + (headers or [])
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
        body = _BodyWriter(self.conn, self.gzip)
        fields = _base_headers(_CONTENT_TYPES[framing], self.gzip)
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


class _BodyWriter:
    """Writes a streamed body, gzip-compressed or not, one HTTP chunk per write."""

    def __init__(self, conn: ServerConnection, compressed: bool) -> None:
        self._conn = conn
        # wbits=31: the gzip container, which is what "Content-Encoding: gzip" names.
        self._compressor = zlib.compressobj(wbits=31) if compressed else None

    async def write(self, data: bytes) -> None:
        if self._compressor is not None and data:
            # A sync flush ends the deflate block, so the client can decompress every
            # byte of this object now instead of when the compressor's window fills.
            data = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        await self._conn.send_data(data)

    async def end(self, trailer: bytes) -> bool:
        if self._compressor is not None:
            trailer = self._compressor.compress(trailer) + self._compressor.flush()
        await self._conn.send_data(trailer)
        return await self._conn.finish()


# --- one connection -------------------------------------------------------------------


def _peer_name(stream: anyio.abc.SocketStream) -> str:
    try:
        address = stream.extra(SocketAttribute.remote_address)
    except (anyio.TypedAttributeLookupError, OSError):
        return "-"
    if isinstance(address, tuple):
        return f"{address[0]}:{address[1]}"
    return str(address)


def _log(config: ServerConfig, line: str) -> None:
    if not config.quiet:
        print(f"purai: {line}", file=sys.stderr, flush=True)


def _log_request(
    config: ServerConfig, peer: str, request: Request, outcome: _Outcome, elapsed: float
) -> None:
    chunks = "-" if outcome.chunks is None else str(outcome.chunks)
    note = f" ({outcome.note})" if outcome.note else ""
    _log(
        config,
        f'{peer} "{request.method} {request.target}" {outcome.status} '
        f"chunks={chunks} {elapsed:.3f}s{note}",
    )


async def _serve_connection(
    stream: anyio.abc.SocketStream, *, config: ServerConfig, fixed_reply: str | None
) -> None:
    peer = _peer_name(stream)
    async with stream:
        conn = ServerConnection(
            stream, max_head_size=config.max_head_size, max_body_size=config.max_body_size
        )
        try:
            while True:
                try:
                    request = await conn.next_request()
                except BadRequest as exc:
                    await _refuse(conn, exc, config, peer)
                    return
                if request is None:
                    return
                started = time.monotonic()
                outcome = _Outcome()
                try:
                    reusable = await _Responder(
                        conn, request, config, fixed_reply, outcome
                    ).respond()
                except ClientGone:
                    outcome.note = "client went away"
                    reusable = False
                finally:
                    _log_request(config, peer, request, outcome, time.monotonic() - started)
                if not reusable:
                    return
        except ClientGone:
            return
        except Exception:
            # A bug here must not take the other connections down with it; say so
            # even when quiet.
            print(f"purai: internal error serving {peer}:", file=sys.stderr)
            traceback.print_exc()


async def _refuse(conn: ServerConnection, exc: BadRequest, config: ServerConfig, peer: str) -> None:
    """Answer a request that cannot be read, then close the connection."""
    if conn.can_reply:
        body = encode_json(error_body(exc.status, exc.message))
        await conn.send_head(
            exc.status,
            [
                *_base_headers(b"application/json", False),
                (b"Content-Length", str(len(body)).encode()),
                (b"Connection", b"close"),
            ],
        )
        await conn.send_data(body)
        await conn.finish()
        _log(config, f'{peer} "-" {exc.status} chunks=- ({exc.message})')
    await conn.close_gracefully()


# --- the server -----------------------------------------------------------------------


def server_url(host: str, port: int) -> str:
    """The base URL of a server at ``host`` and ``port``, e.g. ``http://127.0.0.1:8000``.

    Args:
        host: A host name or an IP address (an IPv6 address is put in brackets).
        port: The port.
    """
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _bound_address(listener: anyio.abc.Listener[Any]) -> tuple[str, int]:
    listeners = getattr(listener, "listeners", [listener])
    address = listeners[0].extra(SocketAttribute.local_address)
    host, port = str(address[0]), int(address[1])
    ip = ipaddress.ip_address(host.partition("%")[0])
    if ip.is_unspecified:
        # Listening on every interface: loopback is the address that surely connects.
        host = "::1" if ip.version == 6 else "127.0.0.1"
    return host, port


async def serve(
    config: ServerConfig | None = None,
    *,
    task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run the stand-in server until cancelled.

    Start it in a task group to learn where it listens::

        async with anyio.create_task_group() as tg:
            host, port = await tg.start(serve, ServerConfig(port=0))
            ...
            tg.cancel_scope.cancel()

    Args:
        config: How to behave; the defaults when omitted.
        task_status: Receives ``(host, port)`` once the server listens: the bound
            port when ``config.port`` is 0, and a loopback address when it listens on
            every interface.

    Raises:
        OSError: The address cannot be listened on, or ``reply_file`` cannot be read.
        UnicodeDecodeError: ``reply_file`` is not UTF-8.
    """
    config = config or ServerConfig()
    fixed_reply = config.reply
    if config.reply_file is not None:
        # Read as bytes: text mode would turn CRLF into LF, and the reply is the
        # file's text exactly as it is.
        fixed_reply = (await anyio.Path(config.reply_file).read_bytes()).decode("utf-8")
    listener = await anyio.create_tcp_listener(
        local_host=config.host or None, local_port=config.port
    )
    async with listener:
        task_status.started(_bound_address(listener))
        await listener.serve(
            functools.partial(_serve_connection, config=config, fixed_reply=fixed_reply)
        )


class BackgroundServer:
    """The stand-in server in a thread of its own, for blocking code.

    Example::

        with BackgroundServer(ServerConfig(quiet=True)) as server:
            client = Client(server.base_url)

    Args:
        config: How the server behaves; the defaults when omitted.
        backend: The event loop the thread runs: ``"asyncio"`` or ``"trio"``.
    """

    def __init__(self, config: ServerConfig | None = None, *, backend: str = "asyncio") -> None:
        self.config = config or ServerConfig()
        self.backend = backend
        self._address: tuple[str, int] | None = None
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> BackgroundServer:
        """Start the server; return once it listens.

        Raises:
            OSError: The address cannot be listened on.
        """
        if self._stack is not None:
            raise RuntimeError("the server is already running")
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(anyio.from_thread.start_blocking_portal(self.backend))
            future, address = portal.start_task(serve, self.config)
            # Undone in reverse: cancel the server, then stop the loop and join the thread.
            stack.callback(future.cancel)
            self._address = address
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server, closing its connections, and join its thread."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _require_address(self) -> tuple[str, int]:
        if self._address is None or self._stack is None:
            raise RuntimeError("the server is not running; use it in a with block")
        return self._address

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._require_address()[0]

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._require_address()[1]

    @property
    def base_url(self) -> str:
        """The server's URL, e.g. ``http://127.0.0.1:54321``."""
        return server_url(*self._require_address())
