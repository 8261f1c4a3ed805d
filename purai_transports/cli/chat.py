"""``purai chat``: stream a reply to the terminal, with any of the three clients.

With a prompt (as an argument, or piped to standard input) it asks once; on a
terminal with no prompt it holds a conversation (:mod:`.conversation`). With no base
URL it starts the stand-in server in this process, on a free loopback port, so that
it works on a fresh machine with no account.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from .._core.paths import DEFAULT_PATH, OPENAI_CHAT_PATH
from .._core.settings import Timeout
from .conversation import converse
from .options import UsageError, check_at_least, check_seconds, headers_from
from .printer import REASONING_CHOICES, ReplyPrinter
from .sessions import open_session

__all__ = ["add_chat_parser"]

DEFAULT_MODEL = "gpt-3.5-turbo"


def add_chat_parser(commands: Any) -> None:
    chat = commands.add_parser(
        "chat",
        help="send a prompt and print the reply as it streams, or hold a conversation",
        description="Send a prompt and print the reply as it streams. With no prompt on a "
        "terminal, hold a conversation: each question is sent with the conversation so far; "
        "/reset starts over, /exit or Ctrl-D ends it, Ctrl-C stops a reply. With no base "
        "URL, talk to the built-in stand-in server, started on a free loopback port.",
    )
    chat.add_argument(
        "prompt",
        nargs="?",
        help="the prompt (default: standard input; on a terminal, a conversation)",
    )
    chat.add_argument(
        "--base-url",
        default=os.environ.get("PURAI_BASE_URL"),
        help="the server, e.g. https://host/prefix (default: $PURAI_BASE_URL, else the "
        "built-in stand-in server)",
    )
    chat.add_argument("--api-key", default=None, help="the API key (default: $PURAI_API_KEY)")
    chat.add_argument(
        "-m", "--model", default=DEFAULT_MODEL, help=f"the model (default: {DEFAULT_MODEL})"
    )
    chat.add_argument("-s", "--system", help="the system prompt, sent before the conversation")
    chat.add_argument(
        "-t", "--temperature", type=float, help="sampling temperature (default: the server's)"
    )
    chat.add_argument("--max-tokens", type=int, metavar="N", help="the most tokens in a reply")
    chat.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header field to send with each request (repeatable)",
    )
    chat.add_argument(
        "--path",
        default=None,
        help=f"the endpoint under the base URL (default: {OPENAI_CHAT_PATH} under a base "
        f"URL ending in /v1, as OpenAI-compatible servers have it; else {DEFAULT_PATH})",
    )
    chat.add_argument(
        "--transport",
        choices=["blocking", "asyncio", "trio"],
        default="blocking",
        help="the client to use (default: blocking)",
    )
    chat.add_argument("--no-stream", action="store_true", help="ask for one whole reply")
    chat.add_argument(
        "--json",
        action="store_true",
        help="print each decoded chunk (or the whole reply) as a JSON line, encoded "
        "again from the fields purai knows",
    )
    chat.add_argument(
        "--reasoning",
        choices=REASONING_CHOICES,
        default="show",
        help="the model's reasoning, where the server sends it: shown before the answer, "
        "faint on a terminal and between <think> lines elsewhere, or hidden "
        "(default: show)",
    )
    chat.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds to wait for the server (default: 60)",
    )
    chat.add_argument(
        "--proxy",
        metavar="URL",
        help="the proxy: http://, https://, socks5:// or socks5h://, with user:password@ "
        "if it asks (default: $HTTPS_PROXY, $HTTP_PROXY, $ALL_PROXY and $NO_PROXY)",
    )
    chat.add_argument(
        "--cacert",
        metavar="FILE",
        help="the CA bundle to check servers and proxies against (default: the system's, "
        "or $SSL_CERT_FILE and $SSL_CERT_DIR)",
    )
    chat.set_defaults(run=run_chat, parser=chat)


def _request_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request's fields other than its messages, every option checked."""
    check_at_least("--temperature", args.temperature, 0)
    check_at_least("--max-tokens", args.max_tokens, 1)
    fields: dict[str, Any] = {"model": args.model}
    if args.temperature is not None:
        fields["temperature"] = args.temperature
    if args.max_tokens is not None:
        fields["max_tokens"] = args.max_tokens
    return fields


def run_chat(args: argparse.Namespace) -> int:
    # Every option is checked before the server starts or anything is read.
    fields = _request_fields(args)
    options: dict[str, Any] = {
        "api_key": args.api_key,
        "timeout": Timeout.of(check_seconds("--timeout", args.timeout)),
        "headers": headers_from("--header", args.header),
        "proxy": args.proxy,
    }
    if args.cacert is not None:
        if not os.path.exists(args.cacert):
            raise UsageError(f"--cacert: no CA bundle at {args.cacert!r}")
        options["verify"] = args.cacert
    if not args.base_url and args.proxy is None:
        # The built-in server listens on loopback: a proxy from the environment (a
        # company's, say) could not reach it. A --proxy given is used as given.
        options["trust_env"] = False
    conversation = args.prompt is None and sys.stdin.isatty()
    prompt = "" if conversation else args.prompt
    if prompt is None:
        prompt = sys.stdin.read()
    if not conversation and not prompt.strip():
        raise UsageError("no prompt given (as an argument or on standard input)")

    def new_printer() -> ReplyPrinter:
        return ReplyPrinter(sys.stdout, as_json=args.json, reasoning=args.reasoning)

    with (
        _server_unless(args.base_url) as base_url,
        open_session(
            args.transport, base_url, options, path=args.path, stream=not args.no_stream
        ) as session,
    ):
        if conversation:
            return converse(session, fields, new_printer, system=args.system)
        messages = [{"role": "system", "content": args.system}] if args.system else []
        messages.append({"role": "user", "content": prompt})
        printer = new_printer()
        try:
            session.reply({**fields, "messages": messages}, printer)
        finally:
            printer.end()  # a fresh line, even after an error or Ctrl-C
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
