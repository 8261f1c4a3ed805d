"""The pool fuzzed: many interleaved streams on one client, a server that misbehaves.

No sockets and no sleeps: the client logic (:class:`~purai_transports._core.exchange.Exchange`,
driven by the real blocking runner) runs on the in-memory backend with its fake clock
(``purai_transports/_backends/memory.py``), so hypothesis can try thousands of
schedules in seconds. The server is a script per
request, drawn at random: good replies, bytes that arrive after a reply's end (in the
same read or while the connection sits idle), late second replies, a ``408``, closes
and resets at random points, ``503`` for a retry, silence until a time limit.

Each request is numbered (``X-N``), and every chunk the server sends for request
``n`` says ``n:i``. Whatever the schedule:

* every stream yields exactly its own chunks, in order, or a prefix of them and then
  one of the library's errors;
* no request reaches the server more often than it was answered with a ``503``
  (nothing is sent twice behind the caller's back);
* the idle pool never holds more than ``max_keepalive``, every open connection is
  held by a stream or the pool, and once the client is closed none is open.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import deque
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purai_proto import ChatCompletionChunk, PuraiError
from purai_transports import (
    ClientSettings,
    NetworkError,
    RemoteProtocolError,
    ServerDisconnectedError,
    Timeout,
    TimeoutException,
)
from purai_transports._backends.memory import FakeClock, MemoryBackend, MemoryStream
from purai_transports._core.client_core import ClientCore
from purai_transports._core.exchange import Exchange
from purai_transports._core.runners import SyncRun
from tests.helpers.scripted_replies import (
    TIMEOUT_408,
    chunk_object,
    head,
    http_chunk,
    streamed_reply,
)

PLANS = [
    "good",
    "good-sse",
    "good-length",
    "stray-same-read",
    "stray-while-idle",
    "late-reply",
    "408-while-idle",
    "close-while-idle",
    "close-unanswered",
    "reset-unanswered",
    "close-mid-reply",
    "reset-mid-reply",
    "broken-after",
    "503",
    "silent",
]
# Plans whose own reply is whole: the stream must end well, whatever came before.
GOOD = {p for p in PLANS if "unanswered" not in p and "mid-reply" not in p and p != "silent"}
CHUNKS = 3


EXPECTED: dict[str, type[PuraiError] | tuple[type[PuraiError], ...]] = {
    "close-unanswered": ServerDisconnectedError,
    "reset-unanswered": ServerDisconnectedError,
    "close-mid-reply": RemoteProtocolError,
    "reset-mid-reply": (NetworkError, RemoteProtocolError),  # cut in the head: EOF-like
    "silent": TimeoutException,
}


@dataclasses.dataclass
class Server:
    """What the server does and saw, for every connection."""

    plans: dict[int, str]
    rng: random.Random
    received: dict[int, int] = dataclasses.field(default_factory=dict)  # requests per n
    answered_503: dict[int, int] = dataclasses.field(default_factory=dict)

    def serve(self, stream: MemoryStream, request: bytes) -> None:
        """Answer one request written on ``stream``, as its plan says."""
        match = _NUMBER.search(request)
        assert match is not None
        n = int(match.group(1))
        self.received[n] = self.received.get(n, 0) + 1
        now, later, end = self.reply_for(n)
        # Cut anywhere: what one read returns means nothing.
        while now:
            size = self.rng.randint(1, max(1, len(now)))
            stream.send(now[:size])
            now = now[size:]
        if later:
            stream.send_when_idle(later)
        if end == "close":
            stream.close_by_server()
        elif end == "reset":
            stream.reset_by_server()
        elif end == "broken":
            stream.drop_silently()

    def reply_for(self, n: int) -> tuple[bytes, bytes, str]:
        """(bytes now, bytes later, what then: "" keep the connection, "close",
        "reset", "silent", or "broken": the next write fails)."""
        attempt = self.received[n]
        plan = self.plans[n] if attempt == 1 else "good"
        texts = [f"{n}:{i}" for i in range(CHUNKS)]
        good = b"".join(s for s in streamed_reply(texts).steps if isinstance(s, bytes))
        stray = http_chunk(chunk_object(f"{n}:stray"))
        if plan == "good":
            return good, b"", ""
        if plan == "good-sse":
            sse = streamed_reply(texts, sse=True).steps
            return b"".join(s for s in sse if isinstance(s, bytes)), b"", ""
        if plan == "good-length":
            body = b"".join(chunk_object(t) for t in texts)
            length = head(
                200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return length + body, b"", ""
        if plan == "stray-same-read":
            return good + stray, b"", ""
        if plan == "stray-while-idle":
            return good, stray, ""
        if plan == "late-reply":
            return good, good, ""
        if plan == "408-while-idle":
            return good, TIMEOUT_408, "close"
        if plan == "close-while-idle":
            return good, b"", "close"
        if plan == "broken-after":
            return good, b"", "broken"
        if plan == "close-unanswered":
            return b"", b"", "close"
        if plan == "reset-unanswered":
            return b"", b"", "reset"
        if plan in ("close-mid-reply", "reset-mid-reply"):
            cut = self.rng.randrange(1, len(good))
            return good[:cut], b"", plan.partition("-")[0]
        if plan == "503":
            self.answered_503[n] = self.answered_503.get(n, 0) + 1
            body = b'{"status": 503, "error": {"message": "busy"}}'
            fields = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            return head(503, fields, reason="Unavailable") + body, b"", ""
        assert plan == "silent"
        return b"", b"", "silent"


_NUMBER = re.compile(rb"\r\nX-N: (\d+)\r\n")


@dataclasses.dataclass
class Stream:
    n: int
    run: SyncRun
    chunks: list[str] = dataclasses.field(default_factory=list)
    error: PuraiError | None = None
    done: bool = False


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    plans=st.lists(st.sampled_from(PLANS), min_size=1, max_size=16),
    concurrency=st.integers(1, 4),
    max_keepalive=st.integers(0, 3),
    parser=st.sampled_from(["h11", "auto"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_stream_gets_its_own_chunks_or_an_error(
    plans: list[str], concurrency: int, max_keepalive: int, parser: Any, seed: int
) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    server = Server(dict(enumerate(plans)), rng)
    settings = ClientSettings(
        base_url="http://fake.test",
        timeout=Timeout(connect=1.0, read=1.0, write=1.0, chunk=2.0),
        max_retries=1,
        retry_backoff=0.01,
        max_keepalive=max_keepalive,
        http_parser=parser,
    )
    core = ClientCore(settings)
    core.clock = clock
    core.jitter = rng.random
    backend = MemoryBackend(server.serve, clock)

    def start(n: int) -> Stream:
        exchange: Exchange = core.exchange(
            None,
            {"messages": [{"role": "user", "content": "hi"}]},
            path="/x",
            stream=True,
            headers={"X-N": str(n)},
        )
        return Stream(n, SyncRun(exchange, backend))

    waiting = deque(range(len(plans)))
    active: list[Stream] = []
    finished: list[Stream] = []
    while waiting or active:
        while waiting and len(active) < concurrency:
            active.append(start(waiting.popleft()))
        stream = rng.choice(active)
        try:
            chunk: ChatCompletionChunk = next(stream.run)
            stream.chunks.append(chunk.text)
        except StopIteration:
            stream.done = True
        except PuraiError as exc:
            stream.error = exc
            stream.done = True
        clock.advance(rng.random() * 0.01)
        if stream.done:
            active.remove(stream)
            finished.append(stream)
        # Every open connection is held by a running stream or waits in the pool.
        assert len(core.pool.idle) <= max_keepalive
        held = {s.run.exchange.connection.stream for s in active if s.run.exchange.connection}
        pooled = {c.stream for c in core.pool.idle}
        assert open_streams(backend) <= held | pooled, "a connection leaked"

    for stream in finished:
        own = [f"{stream.n}:{i}" for i in range(CHUNKS)]
        plan = plans[stream.n]
        if plan in GOOD:
            assert (stream.chunks, stream.error) == (own, None), (stream.n, plan)
        else:
            assert stream.chunks == own[: len(stream.chunks)], (stream.n, stream.chunks)
            assert isinstance(stream.error, EXPECTED[plan]), (stream.n, plan, stream.error)
    for n, count in server.received.items():
        assert count <= 1 + server.answered_503.get(n, 0), f"request {n} sent {count} times"
    for connection in core.pool.drain():
        connection.stream.close()
    assert not open_streams(backend)


def open_streams(backend: MemoryBackend) -> set[MemoryStream]:
    return {stream for stream in backend.streams if not stream.closed}
