"""The stand-in PurAI server's loop: listening, and the requests of each connection.

Theory of operation
-------------------
PurAI is shut down, so this server plays it. It runs on anyio (so on asyncio and on
trio) with h11 doing HTTP/1.1 (:mod:`purai_transports.server._connection`), one task
per connection and any number of requests per connection (keep-alive). Which answer a
request gets is for :mod:`purai_transports.server._routes` to say; this module accepts
connections, reads their requests, hands each to a responder and logs its outcome.
"""

from __future__ import annotations

import functools
import ipaddress
import sys
import time
import traceback
from typing import Any

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

from purai_proto import encode_json

from ._config import ServerConfig
from ._connection import BadRequest, ClientGone, Request, ServerConnection
from ._replies import error_body
from ._routes import Outcome, Responder
from ._wire import base_headers

__all__ = ["serve", "server_url"]


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
    config: ServerConfig, peer: str, request: Request, outcome: Outcome, elapsed: float
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
                outcome = Outcome()
                try:
                    reusable = await Responder(
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
                *base_headers(b"application/json", False),
                (b"Content-Length", str(len(body)).encode()),
                (b"Connection", b"close"),
            ],
        )
        await conn.send_data(body)
        await conn.finish()
        _log(config, f'{peer} "-" {exc.status} chunks=- ({exc.message})')
    await conn.close_gracefully()


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
