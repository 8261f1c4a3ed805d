"""Drive the sans-IO ClientConnection from a plain selectors loop: no client, no threads.

    python examples/selectors_loop.py [--base-url http://HOST:PORT] [--path PATH]

purai_proto does no I/O: this program owns a non-blocking socket and moves bytes
between it and a ClientConnection, which turns them into events. Plain http:// only
(TLS would need ssl.MemoryBIO). With no base URL (and no PURAI_BASE_URL), the stand-in
server is started in a thread, only to have something to talk to.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
from urllib.parse import urlsplit

from purai_proto import (
    NEED_DATA,
    ChatRequest,
    ChunkReceived,
    ClientConnection,
    CompletionReceived,
    ErrorReceived,
    Message,
    ResponseStarted,
    StreamEnded,
)
from purai_transports.server import BackgroundServer, ServerConfig

QUESTION = [Message(role="user", content="who are you? answer with 3 words")]


def exchange(
    sel: selectors.BaseSelector,
    sock: socket.socket,
    conn: ClientConnection,
    request: ChatRequest,
    path: str,
) -> bool:
    """Send one request, print its reply as it arrives; False if the server reported an error."""
    outgoing = conn.send_request(request, path=path, api_key=os.environ.get("PURAI_API_KEY"))
    sel.modify(sock, selectors.EVENT_WRITE)
    ok = True
    while True:
        if not sel.select(timeout=30):
            raise SystemExit("the server sent nothing for 30 s")
        if outgoing:  # writable: send what the socket takes of the request
            outgoing = outgoing[sock.send(outgoing) :]
            if not outgoing:
                sel.modify(sock, selectors.EVENT_READ)
            continue
        # Readable: hand over what arrived, as it is (b"" means the server closed).
        conn.receive_data(sock.recv(65536))
        # Then take every event those bytes complete, until the connection needs more.
        while (event := conn.next_event()) is not NEED_DATA:
            if isinstance(event, ResponseStarted):
                print(f"[HTTP {event.status}]")
            elif isinstance(event, ChunkReceived):
                print(event.chunk.text, end="", flush=True)
            elif isinstance(event, CompletionReceived):  # a reply that was not streamed
                print(event.completion.text, end="")
            elif isinstance(event, ErrorReceived):  # an error status, or an error mid-stream
                print(f"[error {event.status}: {event.message}]", file=sys.stderr)
                ok = False
            elif isinstance(event, StreamEnded):  # the reply is complete
                print()
                return ok


def run(base_url: str, path: str) -> bool:
    url = urlsplit(base_url)
    if url.scheme != "http" or url.hostname is None:
        raise SystemExit("this example speaks plain http:// only")
    conn = ClientConnection(url.netloc)  # the Host header
    target = url.path.rstrip("/") + path  # a base URL may have a path prefix
    # Connect blocking, for brevity; everything after it is non-blocking.
    sock = socket.create_connection((url.hostname, url.port or 80), timeout=10)
    sock.setblocking(False)
    with sock, selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_WRITE)
        streamed = ChatRequest(model="gpt-3.5-turbo", messages=QUESTION, stream=True)
        if not exchange(sel, sock, conn, streamed, target):
            return False
        if not conn.reusable:
            print("the server closed the connection; a second request needs a new one")
            return True
        # Keep-alive: the next request goes out on the same socket.
        print(f"second request, not streamed, on the same connection ({sock.getsockname()})")
        whole = ChatRequest(model="gpt-3.5-turbo", messages=QUESTION)
        return exchange(sel, sock, conn, whole, target)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("PURAI_BASE_URL"))
    parser.add_argument("--path", default="/openai/chat/completions")
    args = parser.parse_args()
    if args.base_url:
        sys.exit(0 if run(args.base_url, args.path) else 1)
    with BackgroundServer(ServerConfig(quiet=True)) as server:
        sys.exit(0 if run(server.base_url, args.path) else 1)
