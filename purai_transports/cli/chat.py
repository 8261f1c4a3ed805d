"""``purai chat``: stream a reply to the terminal, with any of the three clients.

With no base URL it starts the stand-in server in this process, on a free loopback
port, so that it works on a fresh machine with no account.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import msgspec

from purai_proto import ChatCompletion, ChatCompletionChunk

from .._core.paths import DEFAULT_PATH
from .._core.settings import Timeout

__all__ = ["add_chat_parser"]

DEFAULT_MODEL = "gpt-3.5-turbo"


def add_chat_parser(commands: Any) -> None:
    chat = commands.add_parser(
        "chat",
        help="send a prompt and print the reply as it streams",
        description="Send a prompt and print the reply as it streams. With no base URL, "
        "talk to the built-in stand-in server, started on a free loopback port.",
    )
    chat.add_argument("prompt", nargs="?", help="the prompt (default: read standard input)")
    chat.add_argument(
        "--base-url",
        default=os.environ.get("PURAI_BASE_URL"),
        help="the server, e.g. https://host/prefix (default: $PURAI_BASE_URL, else the "
        "built-in stand-in server)",
    )
    chat.add_argument("--api-key", default=None, help="the API key (default: $PURAI_API_KEY)")
    chat.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"the model (default: {DEFAULT_MODEL})"
    )
    chat.add_argument(
        "--path",
        default=DEFAULT_PATH,
        help=f"the endpoint under the base URL (default: {DEFAULT_PATH}; "
        "OpenAI-compatible servers: /v1/chat/completions)",
    )
    chat.add_argument(
        "--transport",
        choices=["blocking", "asyncio", "trio"],
        default="blocking",
        help="the client to use (default: blocking)",
    )
    chat.add_argument("--no-stream", action="store_true", help="ask for one whole reply")
    chat.add_argument("--json", action="store_true", help="print the raw chunks as JSON lines")
    chat.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the server (default: 60)"
    )
    chat.set_defaults(run=run_chat)


def run_chat(args: argparse.Namespace) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        print("purai: no prompt given (as an argument or on standard input)", file=sys.stderr)
        return 2
    fields: dict[str, Any] = {
        "model": args.model,
        "messages": [{"role": "user", "content": prompt}],
    }
    with _server_unless(args.base_url) as base_url:
        options: dict[str, Any] = {
            "api_key": args.api_key,
            "timeout": Timeout.of(args.timeout),
        }
        printer = _Printer(sys.stdout, as_json=args.json)
        if args.transport == "blocking":
            _chat_blocking(base_url, options, args, fields, printer)
        else:
            import anyio

            anyio.run(_chat_async, base_url, options, args, fields, printer, backend=args.transport)
        printer.end()
    return 0


@contextlib.contextmanager
def _server_unless(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url
        return
    from ..server import BackgroundServer, ServerConfig

    with BackgroundServer(ServerConfig(quiet=True)) as server:
        print(
            f"purai: no --base-url or PURAI_BASE_URL: using the built-in stand-in server "
            f"at {server.base_url}",
            file=sys.stderr,
        )
        yield server.base_url


class _Printer:
    """Writes text as it arrives (flushed, so it appears as it streams), or JSON lines."""

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self._out = out
        self._json = as_json
        self._wrote_text = False

    def chunk(self, chunk: ChatCompletionChunk) -> None:
        if self._json:
            self._out.write(msgspec.json.encode(chunk).decode() + "\n")
        else:
            self._out.write(chunk.text)
            self._wrote_text = True
        self._out.flush()

    def completion(self, completion: ChatCompletion) -> None:
        if self._json:
            self._out.write(msgspec.json.encode(completion).decode() + "\n")
        else:
            self._out.write(completion.text)
            self._wrote_text = True

    def end(self) -> None:
        if self._wrote_text:
            self._out.write("\n")
        self._out.flush()


def _chat_blocking(
    base_url: str,
    options: dict[str, Any],
    args: argparse.Namespace,
    fields: dict[str, Any],
    printer: _Printer,
) -> None:
    from ..blocking import Client

    with Client(base_url, **options) as client:
        if args.no_stream:
            printer.completion(client.complete(path=args.path, **fields))
            return
        with client.stream(path=args.path, **fields) as stream:
            for chunk in stream:
                printer.chunk(chunk)


async def _chat_async(
    base_url: str,
    options: dict[str, Any],
    args: argparse.Namespace,
    fields: dict[str, Any],
    printer: _Printer,
) -> None:
    client_class: Any
    if args.transport == "trio":
        from ..trio import TrioClient as client_class
    else:
        from ..anyio import AsyncClient as client_class
    async with client_class(base_url, **options) as client:
        if args.no_stream:
            printer.completion(await client.complete(path=args.path, **fields))
            return
        async with client.stream(path=args.path, **fields) as stream:
            async for chunk in stream:
                printer.chunk(chunk)
