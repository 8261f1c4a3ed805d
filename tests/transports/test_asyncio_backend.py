"""The asyncio backend's own rules: which loop gets it, and its per-stream deadline.

Every client behaviour is tested through ``AsyncClient`` on asyncio in
``tests/test_transports.py``, ``test_pool.py`` and ``test_exchange.py``, which run on this
backend; here are the parts those cannot see: that it is the backend they run on, and
that one timer serves every read of a stream however its limits move.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import anyio
import pytest

from purai_transports import ConnectTimeout, ReadTimeout
from purai_transports._backends.asyncio import AsyncioStream
from purai_transports._backends.running_loop import RunningLoopBackend
from purai_transports._backends.trio import TrioStream
from purai_transports._core.operations import Connect
from purai_transports._core.settings import Origin

Script = list[tuple[float, bytes]]


@pytest.fixture
def scripted_sender() -> Iterator[tuple[int, list[Script]]]:
    """A loopback server that, for each connection, waits and sends as its script
    says, then holds the connection open until the test ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    scripts: list[Script] = []
    done = threading.Event()

    def serve() -> None:
        with listener:
            sock, _ = listener.accept()
            with sock:
                for delay, data in scripts[0]:
                    if done.wait(delay):
                        return
                    sock.sendall(data)
                done.wait(10.0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1]), scripts
    done.set()
    thread.join()


def _connect(port: int) -> Connect:
    return Connect(Origin.parse(f"http://127.0.0.1:{port}"), 5.0, ConnectTimeout)


@pytest.mark.parametrize(
    ("loop", "stream_type"), [("asyncio", AsyncioStream), ("trio", TrioStream)]
)
def test_async_client_takes_the_running_loops_backend(
    scripted_sender: tuple[int, list[Script]], loop: str, stream_type: type
) -> None:
    port, scripts = scripted_sender
    scripts.append([])

    async def connect() -> object:
        stream = await RunningLoopBackend().connect(_connect(port))
        await stream.aclose()
        return stream

    assert type(anyio.run(connect, backend=loop)) is stream_type


def test_a_deadline_moved_later_does_not_end_a_read_early(
    scripted_sender: tuple[int, list[Script]],
) -> None:
    # The first read sets the timer for its short limit; the second read's long limit
    # must outlive that timer, which then fires with no reason to end anything.
    port, scripts = scripted_sender
    scripts.append([(0.05, b"a"), (0.5, b"b")])

    async def read_two() -> list[bytes]:
        stream = await RunningLoopBackend().connect(_connect(port))
        try:
            return [await stream.read(0.3, ReadTimeout), await stream.read(5.0, ReadTimeout)]
        finally:
            await stream.aclose()

    assert anyio.run(read_two, backend="asyncio") == [b"a", b"b"]


def test_a_deadline_moved_earlier_ends_a_read_in_time(
    scripted_sender: tuple[int, list[Script]],
) -> None:
    # The timer set for the first read's long limit would fire too late for the
    # second read's short one: the second must still time out, with its limit's error.
    port, scripts = scripted_sender
    scripts.append([(0.05, b"a")])

    async def read_two() -> bytes:
        stream = await RunningLoopBackend().connect(_connect(port))
        try:
            first = await stream.read(30.0, ReadTimeout)
            with pytest.raises(ReadTimeout):
                await stream.read(0.1, ReadTimeout)
            return first
        finally:
            await stream.aclose()

    assert anyio.run(read_two, backend="asyncio") == b"a"


def test_an_idle_stream_is_readable_once_bytes_arrive(
    scripted_sender: tuple[int, list[Script]],
) -> None:
    port, scripts = scripted_sender
    scripts.append([(0.2, b"late")])

    async def poll_twice() -> tuple[bool, bool]:
        stream = await RunningLoopBackend().connect(_connect(port))
        try:
            before = stream.is_readable()
            await anyio.sleep(0.5)
            return before, stream.is_readable()
        finally:
            await stream.aclose()

    assert anyio.run(poll_twice, backend="asyncio") == (False, True)
