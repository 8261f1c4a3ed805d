"""The client logic on the in-memory backend: retries, backoff, deadlines, the pool.

No sockets and no sleeps: :class:`~purai_transports._backends.memory.MemoryBackend`
answers each request from the test, and its fake clock is the client's, so each
limit is checked to the second it ran out, in a millisecond of real time. The same
logic over real loopback TCP and TLS is in ``tests/transports/test_faults.py``,
``test_retries.py`` and ``test_pool.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from purai_transports import (
    APIStatusError,
    ChunkTimeout,
    ClientSettings,
    ConnectError,
    ConnectTimeout,
    ReadTimeout,
    ServerDisconnectedError,
    Timeout,
    TLSError,
    TotalTimeout,
    WriteTimeout,
)
from purai_transports._backends.memory import MemoryBackend, MemoryStream
from purai_transports._core.client_core import ClientCore
from purai_transports._core.runners import SyncRun
from tests.helpers.scripted_replies import head, streamed_reply

MESSAGES = [{"role": "user", "content": "hi"}]
TEXTS = ["a", "b", "c"]
LIMITS = Timeout(connect=1.0, read=5.0, write=1.0, chunk=20.0)


def good_reply() -> bytes:
    return b"".join(step for step in streamed_reply(TEXTS).steps if isinstance(step, bytes))


def status_reply(status: int, *, retry_after: str | None = None) -> bytes:
    body = msgspec.json.encode({"status": status, "error": {"message": "busy"}})
    fields = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry_after is not None:
        fields.append(("Retry-After", retry_after))
    return head(status, fields, reason="Busy") + body


Serve = Callable[[MemoryStream, bytes], None]


def replies(*answers: bytes | Callable[[MemoryStream], None]) -> Serve:
    """A server that answers the n-th request with ``answers[n]`` (the last repeats):
    bytes to send, or a function that acts on the stream."""
    count = 0

    def serve(stream: MemoryStream, data: bytes) -> None:
        nonlocal count
        answer = answers[min(count, len(answers) - 1)]
        count += 1
        if isinstance(answer, bytes):
            stream.send(answer)
        else:
            answer(stream)

    return serve


class Harness:
    """A client core on a memory backend, with a fake clock and no jitter."""

    def __init__(self, serve: Serve, **settings: Any) -> None:
        settings.setdefault("timeout", LIMITS)
        settings.setdefault("max_retries", 0)
        self.backend = MemoryBackend(serve)
        self.clock = self.backend.clock
        self.core = ClientCore(ClientSettings(base_url="http://memory.test", **settings))
        self.core.clock = self.clock
        self.core.jitter = lambda: 0.0  # each wait is then half its maximum
        self.sleeps = self.backend.sleeps

    def run(self) -> SyncRun:
        exchange = self.core.exchange(None, {"messages": MESSAGES}, path="/x", stream=True)
        return SyncRun(exchange, self.backend)

    def texts(self) -> list[str]:
        return [chunk.text for chunk in self.run()]


# --- retries and backoff ----------------------------------------------------------------


def test_a_503_is_retried_after_its_retry_after() -> None:
    harness = Harness(replies(status_reply(503, retry_after="3"), good_reply()), max_retries=1)
    assert harness.texts() == TEXTS
    assert harness.sleeps == [3.0]  # Retry-After outweighs the 0.25 s backoff
    # After an error reply the server's state is unknown: the retry takes a new
    # connection, and the old one is closed.
    assert [stream.closed for stream in harness.backend.streams] == [True, False]


def test_backoff_doubles_with_each_retry() -> None:
    harness = Harness(replies(good_reply()), max_retries=3, retry_backoff=0.5)
    harness.backend.refuse = 3
    assert harness.texts() == TEXTS
    assert harness.sleeps == [0.25, 0.5, 1.0]  # 0.5 * 2**n, halved by zero jitter


def test_the_last_failure_is_raised_when_retries_run_out() -> None:
    harness = Harness(replies(good_reply()), max_retries=2)
    harness.backend.refuse = 3
    with pytest.raises(ConnectError):
        harness.texts()
    assert len(harness.sleeps) == 2


def test_a_retry_after_over_a_minute_is_raised_at_once() -> None:
    harness = Harness(replies(status_reply(429, retry_after="120")), max_retries=2)
    with pytest.raises(APIStatusError) as info:
        harness.texts()
    assert (info.value.status, info.value.retry_after, harness.sleeps) == (429, 120.0, [])


def test_no_retry_that_would_pass_the_total_deadline() -> None:
    limits = Timeout(connect=1.0, read=5.0, write=1.0, chunk=20.0, total=2.0)
    harness = Harness(replies(status_reply(503, retry_after="5")), max_retries=2, timeout=limits)
    with pytest.raises(APIStatusError):
        harness.texts()
    assert harness.sleeps == []


# --- every deadline ---------------------------------------------------------------------


def test_chunk_deadline_starts_when_the_request_is_written() -> None:
    # The head arrives, then nothing: bytes that decode to no chunk do not reset the
    # chunk limit, and the read limit is shorter, so it runs out first each time...
    def head_then_comments(stream: MemoryStream) -> None:
        stream.send(head(200, [("Content-Type", "text/event-stream")]))
        for _ in range(10):
            stream.send(b": keep-alive\n\n")

    harness = Harness(replies(head_then_comments))
    start = harness.clock()
    with pytest.raises(ReadTimeout):
        harness.texts()
    assert harness.clock() - start == LIMITS.read

    # ...unless the chunk limit is the nearer one.
    harness = Harness(
        replies(head_then_comments), timeout=Timeout(connect=1, read=5, write=1, chunk=3)
    )
    start = harness.clock()
    with pytest.raises(ChunkTimeout):
        harness.texts()
    assert harness.clock() - start == 3


def test_total_deadline_covers_the_whole_stream() -> None:
    def slow_chunks(stream: MemoryStream) -> None:
        stream.send(good_reply()[:120])  # the head and part of the body, then silence

    limits = Timeout(connect=1.0, read=5.0, write=1.0, chunk=20.0, total=4.0)
    harness = Harness(replies(slow_chunks), timeout=limits)
    start = harness.clock()
    with pytest.raises(TotalTimeout):
        harness.texts()
    assert harness.clock() - start == 4.0


def test_connect_deadline_and_its_retries() -> None:
    harness = Harness(replies(good_reply()), max_retries=2, retry_backoff=0.5)
    harness.backend.connect_faults.extend(["stall", "stall"])
    start = harness.clock()
    assert harness.texts() == TEXTS
    # Two connects that ran out their limit, two backoffs, then the stream.
    assert harness.sleeps == [0.25, 0.5]
    assert harness.clock() - start == 2 * 1.0 + 0.25 + 0.5  # LIMITS.connect is 1 s


def test_connect_deadline_when_retries_run_out() -> None:
    harness = Harness(replies(good_reply()), max_retries=1)
    harness.backend.connect_faults.extend(["stall", "stall"])
    with pytest.raises(ConnectTimeout):
        harness.texts()
    assert len(harness.sleeps) == 1


def test_a_tls_error_is_not_retried() -> None:
    harness = Harness(replies(good_reply()), max_retries=2)
    harness.backend.connect_faults.append(TLSError("the certificate did not verify"))
    with pytest.raises(TLSError):
        harness.texts()
    assert (harness.sleeps, harness.backend.streams) == ([], [])


def test_write_deadline() -> None:
    harness = Harness(replies(good_reply()), max_retries=2)
    harness.backend.stall_writes = True
    start = harness.clock()
    with pytest.raises(WriteTimeout):
        harness.texts()
    # A request that may have been partly sent is not sent again behind the caller.
    assert harness.clock() - start == LIMITS.write
    assert (len(harness.backend.streams), harness.sleeps) == (1, [])


# --- the pool ---------------------------------------------------------------------------


def test_a_connection_is_reused_and_kept_no_longer_than_its_expiry() -> None:
    harness = Harness(replies(good_reply()), keepalive_expiry=5.0)
    assert harness.texts() == TEXTS
    assert harness.texts() == TEXTS
    assert len(harness.backend.streams) == 1
    harness.clock.advance(5.0)
    assert harness.texts() == TEXTS
    first, second = harness.backend.streams
    assert first.closed
    assert not second.closed


def test_the_pool_keeps_at_most_max_keepalive() -> None:
    harness = Harness(replies(good_reply()), max_keepalive=1)
    one, two = harness.run(), harness.run()
    next(one), next(two)  # both in flight: two connections
    one.run_to_end()
    two.run_to_end()
    assert len(harness.core.pool.idle) == 1
    assert [stream.closed for stream in harness.backend.streams] == [False, True]


def test_a_connection_readable_while_idle_is_not_reused() -> None:
    harness = Harness(replies(good_reply()))
    assert harness.texts() == TEXTS
    harness.backend.streams[0].send(b"HTTP/1.1 408 Request Timeout\r\n\r\n")  # while idle
    assert harness.texts() == TEXTS
    first, _ = harness.backend.streams
    assert first.closed
    assert len(first.written) == 1  # closed, never written to again


def test_unanswered_on_a_reused_connection_is_not_sent_again() -> None:
    harness = Harness(replies(good_reply(), MemoryStream.close_by_server, good_reply()))
    assert harness.texts() == TEXTS
    with pytest.raises(ServerDisconnectedError):
        harness.texts()
    assert harness.texts() == TEXTS
    assert [len(stream.written) for stream in harness.backend.streams] == [2, 1]


def test_unanswered_is_sent_again_when_asked() -> None:
    answers = replies(good_reply(), MemoryStream.close_by_server, good_reply())
    harness = Harness(answers, resend_unanswered=True)
    assert harness.texts() == TEXTS
    assert harness.texts() == TEXTS
    assert [len(stream.written) for stream in harness.backend.streams] == [2, 1]
    assert harness.sleeps == []  # at once, and not counted as a retry


def test_a_request_is_resent_once_on_a_new_connection_not_on_each_pooled_one() -> None:
    # Two pooled connections; the one taken closes unanswered. The request goes
    # again once, on a new connection, never on the other pooled one (which might
    # meet the same fate and send it a third time).
    harness = Harness(
        replies(good_reply(), good_reply(), MemoryStream.close_by_server, good_reply()),
        resend_unanswered=True,
    )
    one, two = harness.run(), harness.run()
    next(one), next(two)
    one.run_to_end()
    two.run_to_end()
    assert harness.texts() == TEXTS
    first, second, third = harness.backend.streams
    assert (len(first.written), len(second.written), len(third.written)) == (1, 2, 1)
