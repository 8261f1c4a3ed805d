"""The ``purai`` command line: its parser, ``main()``, and the ``decode`` and ``serve``
subcommands (``chat`` and ``bench`` have modules of their own)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec

from purai_proto import (
    ChatCompletionChunk,
    ChunkDecoder,
    ErrorBody,
    Framing,
    PuraiError,
    __version__,
)

from .bench import add_bench_parser
from .chat import add_chat_parser
from .options import UsageError

if TYPE_CHECKING:
    from ..server import ServerConfig

_READ_SIZE = 64 * 1024


def _decode(args: argparse.Namespace) -> int:
    type_: Any = Any if args.json else ChatCompletionChunk
    decoder = ChunkDecoder(type_, framing=args.framing)
    stream: BinaryIO = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    out = sys.stdout
    ended = False  # True once the whole body is decoded
    line_begun = False  # text written on a line not yet ended
    try:
        with stream:
            while not ended:
                data = stream.read(_READ_SIZE)
                for value in decoder.feed(data) if data else decoder.close():
                    if isinstance(value, ErrorBody):
                        raise _StreamCarriedError(value.summary)
                    if args.json:
                        out.write(msgspec.json.encode(value).decode() + "\n")
                    elif value.text:
                        line_begun = True
                        out.write(value.text)
                ended = not data
    except _StreamCarriedError as exc:
        print(f"purai: the stream carried an error: {exc}", file=sys.stderr)
        return 1
    finally:
        # The text ends with a line end, and so does a part of it cut by an error.
        if not args.json and (ended or line_begun):
            out.write("\n")
        out.flush()
    return 0


class _StreamCarriedError(Exception):
    """An error object inside the decoded body (its summary)."""


def _serve(args: argparse.Namespace) -> int:
    # Imported here: the other commands need neither anyio nor the server.
    import anyio

    from ..server import ServerConfig
    from ..server._config import InvalidSetting

    # Everything is checked, and the reply file read, before the server starts.
    reply = args.reply if args.reply_file is None else _read_reply(args.reply_file)
    try:
        config = ServerConfig(
            host=args.host,
            port=args.port,
            delay=args.delay,
            chunk_size=args.chunk_size,
            gzip=args.gzip,
            ndjson=args.ndjson,
            api_key=args.api_key,
            reply=reply,
            fail_status=args.fail_status,
            error_after=args.error_after,
            cut_after=args.cut_after,
            stall_after=args.stall_after,
            quiet=args.quiet,
        )
    except InvalidSetting as exc:
        # ServerConfig's fields are the options' names with - for _.
        raise UsageError(f"--{exc.setting.replace('_', '-')} {exc.problem}") from None
    return int(anyio.run(_serve_until_signalled, config, backend=args.backend))


def _read_reply(path: str) -> str:
    # Bytes, decoded: text mode would turn the file's CRLF into LF.
    with open(path, "rb") as file:
        data = file.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--reply-file {path} is not UTF-8 text ({exc.reason})") from None


async def _serve_until_signalled(config: ServerConfig) -> int:
    """Serve until SIGINT (Ctrl-C) or SIGTERM, then stop cleanly; the exit status."""
    import anyio

    from ..server import serve, server_url

    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        # Where signals cannot be caught this way (Windows), Ctrl-C still raises
        # KeyboardInterrupt, which main() turns into exit status 130.
        with contextlib.ExitStack() as stack:
            try:
                signals = stack.enter_context(
                    anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
                )
            except NotImplementedError:
                signals = None
            try:
                host, port = await tg.start(serve, config)
            except (OSError, ValueError) as exc:
                # Kept for below, outside the task group, whose exception group would
                # wrap it, so that it is reported in one line.
                failure = exc
            else:
                print(f"purai: serving on {server_url(host, port)}", file=sys.stderr, flush=True)
                if signals is None:
                    await anyio.sleep_forever()
                else:
                    async for _ in signals:
                        break
        tg.cancel_scope.cancel()
    if failure is not None:
        reason = failure.strerror if isinstance(failure, OSError) else None
        address = server_url(config.host, config.port).removeprefix("http://")
        print(f"purai: {reason or failure}: {address}", file=sys.stderr)
        return 1
    print("purai: stopped", file=sys.stderr, flush=True)
    return 0


def _add_serve_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the stand-in PurAI server",
        description="Run the stand-in PurAI server: PurAI's routes stream objects back to "
        "back as the seed shows, /v1 streams server-sent events for OpenAI clients.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on; 0 picks a free one"
    )
    serve.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="seconds before each chunk"
    )
    serve.add_argument("--chunk-size", type=int, default=5, help="characters per chunk")
    serve.add_argument("--gzip", action="store_true", help="compress replies when allowed")
    serve.add_argument("--ndjson", action="store_true", help="stream PurAI's routes as NDJSON")
    serve.add_argument("--api-key", help="require 'Authorization: Bearer KEY'")
    replies = serve.add_mutually_exclusive_group()
    replies.add_argument("--reply", help="the text of every reply")
    replies.add_argument(
        "--reply-file", help="a UTF-8 file whose text, byte for byte, is every reply"
    )
    serve.add_argument(
        "--fail-status", type=int, help="answer chat requests with this status (400-599)"
    )
    serve.add_argument(
        "--error-after", type=int, metavar="N", help="send an error object after N chunks"
    )
    serve.add_argument(
        "--cut-after",
        type=int,
        metavar="N",
        help="after N chunks, send half an object and close the connection",
    )
    serve.add_argument(
        "--stall-after", type=int, metavar="N", help="after N chunks, send nothing more"
    )
    serve.add_argument("--quiet", action="store_true", help="log no requests")
    serve.add_argument(
        "--backend", default="asyncio", choices=["asyncio", "trio"], help="the event loop"
    )
    serve.set_defaults(run=_serve, parser=serve)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="purai", description="purai: streamed chat completions from the command line."
    )
    parser.add_argument("--version", action="version", version=f"purai {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser(
        "decode", help="decode a captured response body and print its text or its objects"
    )
    decode.add_argument("file", help="the body, or - for standard input")
    decode.add_argument(
        "--framing",
        default="auto",
        choices=typing.get_args(Framing),
        help="how the values are laid out (default: tell from the first bytes)",
    )
    decode.add_argument(
        "--json",
        action="store_true",
        help="print each object as a JSON line: decoded as plain JSON (every field kept) "
        "and encoded again, compact",
    )
    decode.set_defaults(run=_decode, parser=decode)
    _add_serve_parser(commands)
    add_chat_parser(commands)
    add_bench_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    # A subcommand reports its own mistakes, with its own usage.
    command_parser: argparse.ArgumentParser = getattr(args, "parser", parser)
    if rest:
        command_parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return int(args.run(args))
    except UsageError as exc:
        # As argparse reports its own errors, but returned rather than exited.
        command_parser.print_usage(sys.stderr)
        print(f"{command_parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except PuraiError as exc:
        print(f"purai: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"purai: {reason}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
