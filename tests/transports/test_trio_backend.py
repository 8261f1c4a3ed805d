"""The trio backend's own plain-TCP read, which reads the socket's descriptor itself:
what it hands out, and the library's errors for a limit, an EOF and a closed stream."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import trio

from purai_transports import ConnectTimeout, NetworkError, ReadTimeout
from purai_transports._backends.trio import TrioBackend, TrioStream
from purai_transports._core.operations import Connect
from purai_transports._core.settings import Origin


async def _connected(listener: socket.socket) -> tuple[TrioStream, socket.socket]:
    port = listener.getsockname()[1]
    op = Connect(Origin.parse(f"http://127.0.0.1:{port}"), 5.0, ConnectTimeout)
    stream = await TrioBackend().connect(op)
    peer, _ = listener.accept()
    return stream, peer


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def test_reads_what_came_then_eof(listener: socket.socket) -> None:
    async def main() -> list[bytes]:
        stream, peer = await _connected(listener)
        with peer:
            peer.sendall(b"hello")
            first = await stream.read(5.0, ReadTimeout)
            peer.shutdown(socket.SHUT_WR)
            end = await stream.read(5.0, ReadTimeout)
        await stream.aclose()
        return [first, end]

    assert trio.run(main) == [b"hello", b""]


def test_a_read_past_its_limit_is_a_read_timeout(listener: socket.socket) -> None:
    async def main() -> None:
        stream, peer = await _connected(listener)
        with peer:
            try:
                await stream.read(0.05, ReadTimeout)
            finally:
                await stream.aclose()

    with pytest.raises(ReadTimeout, match="no data for"):
        trio.run(main)


def test_a_read_after_close_is_a_network_error(listener: socket.socket) -> None:
    async def main() -> None:
        stream, peer = await _connected(listener)
        with peer:
            await stream.aclose()
            await stream.read(5.0, ReadTimeout)

    with pytest.raises(NetworkError, match="closed"):
        trio.run(main)
