"""Stream two replies at once with the native trio client, then cut one short.

    python examples/trio_client.py [--base-url URL] [--path PATH]

TrioClient runs on trio's own streams, for trio applications. With no base URL (and
no PURAI_BASE_URL), the stand-in server is started in this process; it waits 50 ms
before each chunk so that the two streams visibly interleave.
"""

from __future__ import annotations

import argparse
import os

import trio

from purai_transports.server import BackgroundServer, ServerConfig
from purai_transports.trio import TrioClient

MODEL = "gpt-3.5-turbo"


async def ask(client: TrioClient, name: str, prompt: str, path: str) -> None:
    """Stream one reply, printing each chunk with the name of its request."""
    messages = [{"role": "user", "content": prompt}]
    async with client.stream(model=MODEL, messages=messages, path=path) as s:
        async for chunk in s:
            print(f"{name}: {chunk.text!r}")
    print(f"{name} done: {s.completion.text!r}")


async def main(base_url: str, path: str) -> None:
    async with TrioClient(base_url) as client:
        # Two requests at once; the nursery waits for both. Should one fail, the
        # nursery cancels the other, and each stream closes its own connection.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask, client, "one", "who are you? answer with 3 words", path)
            nursery.start_soon(ask, client, "two", "what is sans-IO?", path)

        # Cancellation: move_on_after cancels the request when its time is up. The
        # stream's `async with` closes the connection (shielded from the
        # cancellation), and the client goes on working.
        with trio.move_on_after(0.2) as scope:
            await ask(client, "slow", "tell me a long story", path)
        if scope.cancelled_caught:
            print("slow: cancelled after 0.2 s")
        hello = [{"role": "user", "content": "hello"}]
        reply = await client.complete(model=MODEL, messages=hello, path=path)
        print(f"still working: {reply.text!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("PURAI_BASE_URL"))
    parser.add_argument("--path", default="/openai/chat/completions")
    args = parser.parse_args()
    if args.base_url:
        trio.run(main, args.base_url, args.path)
    else:
        # The stand-in server runs its own event loop in a thread of its own.
        with BackgroundServer(ServerConfig(quiet=True, delay=0.05)) as server:
            trio.run(main, server.base_url, args.path)
