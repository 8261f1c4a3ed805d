"""Stream two replies at once with the async client on asyncio, then cut one short.

    python examples/asyncio_client.py [--base-url URL] [--path PATH]

AsyncClient runs on anyio, so the same code works under trio too. With no base URL
(and no PURAI_BASE_URL), the stand-in server is started in this process; it waits
50 ms before each chunk so that the two streams visibly interleave.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from purai_transports import Timeout
from purai_transports.anyio import AsyncClient
from purai_transports.server import BackgroundServer, ServerConfig

MODEL = "gpt-3.5-turbo"


async def ask(client: AsyncClient, name: str, prompt: str, path: str) -> str:
    """Stream one reply, printing each chunk with the name of its request."""
    messages = [{"role": "user", "content": prompt}]
    async with client.stream(model=MODEL, messages=messages, path=path) as s:
        async for chunk in s:
            print(f"{name}: {chunk.text!r}")
    return s.completion.text


async def main(base_url: str, path: str) -> None:
    # Limits for each step; the client raises ReadTimeout, ChunkTimeout... past them.
    timeout = Timeout(connect=5, read=30, chunk=30)
    async with AsyncClient(base_url, timeout=timeout) as client:
        # Two requests at once, each on a connection of its own from the pool.
        replies = await asyncio.gather(
            ask(client, "one", "who are you? answer with 3 words", path),
            ask(client, "two", "what is sans-IO?", path),
        )
        for reply in replies:
            print(reply)

        # Cancellation: wait_for cancels the request when its time is up (on Python
        # 3.11+, `async with asyncio.timeout(0.2)` does the same). The stream's
        # `async with` closes the connection, so no half-read reply is left behind,
        # and the client goes on working.
        try:
            await asyncio.wait_for(ask(client, "slow", "tell me a long story", path), 0.2)
        except asyncio.TimeoutError:
            print("slow: cancelled after 0.2 s")
        hello = [{"role": "user", "content": "hello"}]
        completion = await client.complete(model=MODEL, messages=hello, path=path)
        print(f"still working: {completion.text!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("PURAI_BASE_URL"))
    parser.add_argument("--path", default="/openai/chat/completions")
    args = parser.parse_args()
    if args.base_url:
        asyncio.run(main(args.base_url, args.path))
    else:
        with BackgroundServer(ServerConfig(quiet=True, delay=0.05)) as server:
            asyncio.run(main(server.base_url, args.path))
