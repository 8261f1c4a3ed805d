"""The trio backend's own plain-TCP read, which reads the socket's descriptor itself:
what it hands out, and the library's errors for a limit, an EOF and a closed stream."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import trio
import trio.testing

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


def test_a_sooner_deadline_wakes_the_read_timer_early(listener: socket.socket) -> None:
    # One timer task keeps every read's limit. While it sleeps towards a far deadline,
    # a read with a near one must still time out at its own, and the far one not.
    async def main() -> tuple[float, bool]:
        patient, patient_peer = await _connected(listener)
        hasty, hasty_peer = await _connected(listener)
        with patient_peer, hasty_peer, trio.fail_after(10):  # virtual seconds
            async with trio.open_nursery() as nursery:
                nursery.start_soon(patient.read, 30.0, ReadTimeout)
                await trio.sleep(1.0)
                started = trio.current_time()
                with pytest.raises(ReadTimeout):
                    await hasty.read(0.5, ReadTimeout)
                took = trio.current_time() - started
                nursery.cancel_scope.cancel()  # the patient read is still waiting
            still_open = patient._socket is not None and patient._socket.fileno() >= 0
            await patient.aclose()
            await hasty.aclose()
        return took, still_open

    clock = trio.testing.MockClock(autojump_threshold=0)
    took, still_open = trio.run(main, clock=clock)
    assert took == pytest.approx(0.5)
    assert still_open


def test_a_read_the_timer_expired_before_it_waited_does_not_wait(
    listener: socket.socket,
) -> None:
    # The timer can fire between the wake-up that data came and the read, which may
    # then find nothing after all and wait again: nobody would wake it.
    async def main() -> None:
        stream, peer = await _connected(listener)
        with peer:
            stream._expire()
            try:
                with trio.fail_after(5):  # hangs without the check
                    await stream._receive()
            finally:
                await stream.aclose()

    with pytest.raises(trio.ClosedResourceError, match="ran out of time"):
        trio.run(main)


def test_bytes_that_came_as_the_timer_fired_leave_no_timeout_behind(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The timer can fire in the same moment as the read is woken with bytes: the read
    # returns them, and the stream must not report a timeout on its next read.
    receive = TrioStream._receive

    async def fired_as_bytes_came(self: TrioStream) -> bytes:
        data = await receive(self)
        self._expire()
        return data

    async def main() -> list[bytes]:
        stream, peer = await _connected(listener)
        with peer:
            peer.sendall(b"a")
            monkeypatch.setattr(TrioStream, "_receive", fired_as_bytes_came)
            first = await stream.read(5.0, ReadTimeout)
            monkeypatch.setattr(TrioStream, "_receive", receive)
            peer.sendall(b"b")
            second = await stream.read(None, ReadTimeout)
        await stream.aclose()
        return [first, second]

    assert trio.run(main) == [b"a", b"b"]


def test_every_run_has_a_read_timer_of_its_own(listener: socket.socket) -> None:
    async def main() -> bytes:
        stream, peer = await _connected(listener)
        with peer:
            peer.sendall(b"x")
            got = await stream.read(5.0, ReadTimeout)
        await stream.aclose()
        return got

    assert [trio.run(main), trio.run(main)] == [b"x", b"x"]
