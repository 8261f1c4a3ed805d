"""The ``purai`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

import msgspec

from purai_proto import ChatCompletionChunk, ChunkDecoder, ErrorBody, PuraiError

_READ_SIZE = 64 * 1024


def _decode(args: argparse.Namespace) -> int:
    type_: Any = Any if args.json else ChatCompletionChunk
    decoder = ChunkDecoder(type_, framing=args.framing)
    stream: BinaryIO = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    out = sys.stdout
    with stream:
        while True:
            data = stream.read(_READ_SIZE)
            values = decoder.feed(data) if data else decoder.close()
            for value in values:
                if isinstance(value, ErrorBody):
                    out.flush()
                    print(f"purai: the stream carried an error: {value.summary}", file=sys.stderr)
                    return 1
                if args.json:
                    out.write(msgspec.json.encode(value).decode() + "\n")
                else:
                    out.write(value.text)
            if not data:
                break
    if not args.json:
        out.write("\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="purai", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser(
        "decode", help="decode a captured response body and print its text or its objects"
    )
    decode.add_argument("file", help="the body, or - for standard input")
    decode.add_argument(
        "--framing",
        default="auto",
        choices=["auto", "concatenated", "sse", "ndjson", "json-array"],
        help="how the values are laid out (default: tell from the first bytes)",
    )
    decode.add_argument("--json", action="store_true", help="print each object as a JSON line")
    decode.set_defaults(run=_decode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except PuraiError as exc:
        print(f"purai: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"purai: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
