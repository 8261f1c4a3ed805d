"""A client of every flavour behind one blocking interface, for the transport tests.

:class:`ClientUnderTest` calls the blocking ``Client`` directly and runs the async ones
in an event loop of their own (an anyio blocking portal), so that one test can make
several calls through one client, as keep-alive needs. The ``make_client`` fixture
(``tests/transports/conftest.py``) makes them.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.from_thread
import pytest

from purai_proto import ChatCompletion, ChatCompletionChunk, ChatRequest, PuraiError
from purai_transports import Timeout

from .servers import ScriptedServer

# The seed's exchange, as the stand-in server replays it.
SEED_PROMPT = "who are you? answer with 3 words"
SEED_PIECES = ["AI la", "nguag", "e mod", "el."]
SEED_TEXT = "".join(SEED_PIECES)
SEED_MESSAGES = [{"role": "user", "content": SEED_PROMPT}]
# A key a client sends, and that no error or repr may show.
API_KEY = "sk-test-5be6f0c1d2a34e7f"
# A limit that a test means to run out: long enough for loopback to do everything
# else in, short enough to keep the file fast.
SHORT = 0.2
# The limits of every client unless a test says otherwise: far above what loopback
# needs, so that they only cut short a test that went wrong.
GENEROUS = Timeout(connect=5.0, read=5.0, write=5.0, chunk=5.0)

FLAVOURS = ["blocking", "anyio-asyncio", "anyio-trio", "trio"]


StartScripted = Callable[..., ScriptedServer]


class Stop(enum.Enum):
    """How a test leaves a stream before its end."""

    BREAK = "break"
    RAISE = "raise"  # an exception inside the stream's with block


class Abandoned(Exception):
    """Raised inside a stream's with block to leave it early."""


@dataclasses.dataclass
class Streamed:
    """What a stream yielded, and what it said at the end (or where it stopped)."""

    chunks: list[ChatCompletionChunk]
    completion: ChatCompletion  # the stream's ``completion`` after the with block
    error: PuraiError | None = None  # only with ``keep_error``

    @property
    def texts(self) -> list[str]:
        return [chunk.text for chunk in self.chunks]

    @property
    def text(self) -> str:
        return "".join(self.texts)


class ClientUnderTest:
    """One client of one flavour, with the same blocking methods for every flavour.

    Args:
        flavour: One of :data:`FLAVOURS`.
        client: The library's client.
        portal: The event loop that async clients run in; None for the blocking one.
    """

    def __init__(
        self, flavour: str, client: Any, portal: anyio.from_thread.BlockingPortal | None
    ) -> None:
        self.flavour = flavour
        self.client = client
        self._portal = portal

    def __repr__(self) -> str:
        return repr(self.client)

    def stream(
        self,
        request: ChatRequest | None = None,
        *,
        stop: Stop | None = None,
        after: int = 1,
        dawdle: float = 0.0,
        keep_error: bool = False,
        **fields: Any,
    ) -> Streamed:
        """Stream a reply through ``client.stream(request, **fields)``.

        Args:
            stop: Leave the stream after ``after`` chunks, this way.
            dawdle: Seconds to hold each chunk before asking for the next, as a slow
                caller does.
            keep_error: Return a :class:`~purai_proto.PuraiError` raised while
                streaming in :attr:`Streamed.error`, with the chunks before it, instead
                of raising it. Any other exception is raised, and fails the test.
        """
        how = _How(stop, after, dawdle, keep_error)
        if self._portal is None:
            return self._stream_blocking(request, how, fields)
        streamed: Streamed = self._portal.call(self._stream_async, request, how, fields)
        return streamed

    def complete(self, request: ChatRequest | None = None, **fields: Any) -> ChatCompletion:
        complete = functools.partial(self.client.complete, request, **fields)
        if self._portal is None:
            return complete()  # type: ignore[no-any-return]
        return self._portal.call(complete)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._portal is None:
            self.client.close()
        else:
            self._portal.call(self.client.aclose)

    # The two loops below are the one place where the flavours differ: the same
    # steps, with and without ``async``.

    def _stream_blocking(
        self, request: ChatRequest | None, how: _How, fields: dict[str, Any]
    ) -> Streamed:
        chunks: list[ChatCompletionChunk] = []
        error: PuraiError | None = None
        stream = self.client.stream(request, **fields)
        try:
            with stream:
                for chunk in stream:
                    chunks.append(chunk)
                    if how.leave_after(chunks):
                        break
                    time.sleep(how.dawdle)
        except Abandoned:
            pass
        except PuraiError as exc:
            if not how.keep_error:
                raise
            error = exc
        return Streamed(chunks, stream.completion, error)

    async def _stream_async(
        self, request: ChatRequest | None, how: _How, fields: dict[str, Any]
    ) -> Streamed:
        chunks: list[ChatCompletionChunk] = []
        error: PuraiError | None = None
        stream = self.client.stream(request, **fields)
        try:
            async with stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    if how.leave_after(chunks):
                        break
                    await anyio.sleep(how.dawdle)  # anyio's sleep works under trio too
        except Abandoned:
            pass
        except PuraiError as exc:
            if not how.keep_error:
                raise
            error = exc
        return Streamed(chunks, stream.completion, error)


@dataclasses.dataclass(frozen=True)
class _How:
    """How :meth:`ClientUnderTest.stream` reads a stream."""

    stop: Stop | None
    after: int
    dawdle: float
    keep_error: bool

    def leave_after(self, chunks: list[ChatCompletionChunk]) -> bool:
        """True to break out of the loop now; raises to leave by an exception."""
        if self.stop is None or len(chunks) < self.after:
            return False
        if self.stop is Stop.RAISE:
            raise Abandoned
        return True


MakeClient = Callable[..., ClientUnderTest]


def tls_ids(tls: bool) -> str:
    return "tls" if tls else "tcp"


over_tcp_and_tls = pytest.mark.parametrize("tls", [False, True], ids=tls_ids)
