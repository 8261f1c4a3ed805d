"""Cancelling the async clients natively: mid-stream, awaiting the reply, in the TLS
handshake and in the wait before a retry; each must close its connection cleanly.

``AsyncClient`` runs under ``@pytest.mark.anyio`` on asyncio and on trio, ``TrioClient``
under ``@pytest.mark.trio``; every test checks through ``no_leaked_fds`` that no file
descriptor is left open.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import anyio.from_thread
import pytest
import trio

from purai_transports.anyio import AsyncClient
from purai_transports.trio import TrioClient
from tests.helpers.clients import GENEROUS, SEED_MESSAGES, SHORT, StartScripted
from tests.helpers.scripted_replies import (
    FIRST,
    HANG,
    JSON_HEAD,
    TEXTS,
    Reply,
    error_reply,
    streamed_reply,
)
from tests.helpers.servers import ScriptedServer

pytestmark = pytest.mark.usefixtures("no_leaked_fds")


AsyncClientType = type[AsyncClient] | type[TrioClient]
MoveOnAfter = Callable[[float], contextlib.AbstractContextManager[Any]]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def async_client(
    cls: AsyncClientType, base_url: str, verify: ssl.SSLContext, **options: Any
) -> AsyncIterator[Any]:
    options.setdefault("timeout", GENEROUS)
    options.setdefault("max_retries", 0)
    async with cls(base_url, verify=verify, **options) as client:
        yield client


# The scenarios below are written once and run by an anyio test (AsyncClient on
# asyncio and on trio, cancelled with anyio.move_on_after) and by a trio test
# (TrioClient, cancelled with trio.move_on_after). A blocking wait for the server
# (client_left) in async code is fine here: the loop has nothing else to do meanwhile.


async def cancelled_stream_closes_its_connection(
    cls: AsyncClientType,
    move_on_after: MoveOnAfter,
    server: ScriptedServer,
    verify: ssl.SSLContext,
) -> None:
    # One slot: the cancelled stream must give it back, or the next one never starts.
    async with async_client(cls, server.base_url, verify, max_connections=1) as client:
        texts: list[str] = []
        with move_on_after(SHORT) as scope:
            async with client.stream(messages=SEED_MESSAGES) as stream:
                async for chunk in stream:
                    texts.append(chunk.text)
        assert scope.cancelled_caught  # inside a read of the stalled stream
        assert texts == TEXTS[:1]
        assert server.client_left(0), "the cancelled stream's connection is still open"
        async with client.stream(messages=SEED_MESSAGES) as stream:
            assert [chunk.text async for chunk in stream] == TEXTS
    assert server.connections == 2


async def cancelled_request_closes_its_connection(
    cls: AsyncClientType,
    move_on_after: MoveOnAfter,
    server: ScriptedServer,
    verify: ssl.SSLContext,
) -> None:
    async with async_client(cls, server.base_url, verify) as client:
        with move_on_after(SHORT) as scope:
            await client.complete(messages=SEED_MESSAGES)
        assert scope.cancelled_caught
    assert server.client_left(0), "the connection cancelled halfway is still open"


async def cancelled_retry_wait_ends_quietly(
    cls: AsyncClientType,
    move_on_after: MoveOnAfter,
    server: ScriptedServer,
    verify: ssl.SSLContext,
) -> None:
    async with async_client(cls, server.base_url, verify, max_retries=1) as client:
        with move_on_after(SHORT) as scope:
            await client.complete(messages=SEED_MESSAGES)
        assert scope.cancelled_caught
    assert len(server.seen) == 1


Scenario = Callable[[AsyncClientType, MoveOnAfter, ScriptedServer, ssl.SSLContext], Awaitable[None]]
STALLED = Reply([JSON_HEAD, FIRST, HANG])
# (the scenario, the scripted server's arguments)
CANCELLATIONS: dict[str, tuple[Scenario, dict[str, Any]]] = {
    "mid-stream": (
        cancelled_stream_closes_its_connection,
        {"replies": [STALLED, streamed_reply(TEXTS)]},
    ),
    "mid-stream-tls": (
        cancelled_stream_closes_its_connection,
        {"replies": [STALLED, streamed_reply(TEXTS)], "tls": True},
    ),
    "awaiting-the-reply": (cancelled_request_closes_its_connection, {"replies": [Reply([HANG])]}),
    "in-the-tls-handshake": (
        cancelled_request_closes_its_connection,
        {"mode": "silent", "tls": True},
    ),
    # Retry-After asks for far longer than the test: only cancellation ends the wait.
    "in-the-retry-wait": (
        cancelled_retry_wait_ends_quietly,
        {"replies": [error_reply(503, "busy", retry_after="30")]},
    ),
}


def _start_for(case: str, scripted: StartScripted) -> tuple[Scenario, ScriptedServer]:
    scenario, arguments = CANCELLATIONS[case]
    options = dict(arguments)
    replies = options.pop("replies", [])
    return scenario, scripted(*replies, **options)


@pytest.mark.parametrize("case", list(CANCELLATIONS))
@pytest.mark.anyio
async def test_anyio_cancellation(
    scripted: StartScripted, client_tls: ssl.SSLContext, case: str
) -> None:
    scenario, server = _start_for(case, scripted)
    await scenario(AsyncClient, anyio.move_on_after, server, client_tls)


@pytest.mark.parametrize("case", list(CANCELLATIONS))
@pytest.mark.trio
async def test_trio_cancellation(
    scripted: StartScripted, client_tls: ssl.SSLContext, case: str
) -> None:
    scenario, server = _start_for(case, scripted)
    await scenario(TrioClient, trio.move_on_after, server, client_tls)
