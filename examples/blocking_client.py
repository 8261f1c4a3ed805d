"""Stream a reply with the blocking client, then ask for a whole one.

    python examples/blocking_client.py [--base-url URL] [--path PATH]

With no base URL (and no PURAI_BASE_URL), the stand-in server is started in this
process on a free loopback port, so the example works on a fresh machine. The API key,
if the server needs one, is read from PURAI_API_KEY.
"""

from __future__ import annotations

import argparse
import os
import sys

from purai_transports import APIStatusError, StreamError, TransportError
from purai_transports.blocking import Client
from purai_transports.server import BackgroundServer, ServerConfig

QUESTION = [{"role": "user", "content": "who are you? answer with 3 words"}]


def chat(base_url: str, path: str) -> None:
    # One client for the whole program: it keeps connections alive between requests.
    with Client(base_url) as client:
        # The request is sent when the iteration starts. Leaving the `with` block
        # early (break, an exception) closes the connection instead of leaving a
        # half-read reply behind.
        with client.stream(model="gpt-3.5-turbo", messages=QUESTION, path=path) as s:
            for chunk in s:
                print(chunk.text, end="", flush=True)  # each piece as it arrives
        print()
        # The chunks folded into one ChatCompletion.
        reply = s.completion
        print(f"streamed: {reply.text!r} (provider: {reply.provider})")

        # The same question, answered in one piece (stream=False). It reuses the
        # connection the stream left in the pool.
        whole = client.complete(model="gpt-3.5-turbo", messages=QUESTION, path=path)
        print(f"complete: {whole.text!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("PURAI_BASE_URL"))
    parser.add_argument("--path", default="/openai/chat/completions")
    args = parser.parse_args()
    try:
        if args.base_url:
            chat(args.base_url, args.path)
        else:
            with BackgroundServer(ServerConfig(quiet=True)) as server:
                chat(server.base_url, args.path)
    except APIStatusError as exc:  # an HTTP error status (401, 404, 429, 500...)
        print(f"the server refused: {exc.status} {exc.message}", file=sys.stderr)
    except StreamError as exc:  # an error object in the middle of a stream
        print(f"\nthe stream failed: {exc.message}", file=sys.stderr)
    except TransportError as exc:  # unreachable, connection broken, or a timeout
        print(f"network problem: {exc}", file=sys.stderr)
    else:
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
