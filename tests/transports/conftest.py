"""Fixtures of the transport tests: loopback servers, TLS, clients of every flavour.

Every client flavour runs the same tests, written once: the blocking ``Client``,
``AsyncClient`` on asyncio and on trio, and the native ``TrioClient``. A test drives a
:class:`tests.helpers.clients.ClientUnderTest` (:func:`make_client`), which calls the
blocking client directly and runs the async ones in an event loop of their own (an
anyio blocking portal), so that one test can make several calls through one client, as
keep-alive needs. Cancellation is async only, and is tested natively under
``@pytest.mark.anyio`` and ``@pytest.mark.trio`` (``test_cancellation.py``).

The servers are the stand-in server (:func:`standin`: replies as PurAI and OpenAI send
them) and :class:`tests.helpers.servers.ScriptedServer` (:func:`scripted`: exactly the
bytes a test asks for, faults included). TLS certificates are made by trustme for each
test session. :func:`no_leaked_fds` is used by the modules that open sockets
(``pytestmark``), so that a client is seen to leave no descriptor open after a normal
end, an abandoned stream, a cancellation and every fault; the in-memory tests need it
not.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.from_thread
import pytest
import trustme

from purai_transports.anyio import AsyncClient
from purai_transports.blocking import Client
from purai_transports.server import BackgroundServer, ServerConfig
from purai_transports.trio import TrioClient
from tests.helpers.clients import (
    FLAVOURS,
    GENEROUS,
    ClientUnderTest,
    MakeClient,
    StartScripted,
)
from tests.helpers.scripted_replies import Reply
from tests.helpers.servers import Mode, ScriptedServer, server_context

# --- file descriptors -----------------------------------------------------------------


def _open_fds() -> set[tuple[int, str]]:
    """Every open descriptor with what it points at (``socket:[inode]`` for a socket),
    so that a descriptor closed and its number reused still counts as new."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # listdir's own descriptor, closed by now
            fds.add((int(name), os.readlink(f"/proc/self/fd/{name}")))
    return fds


@pytest.fixture
def no_leaked_fds() -> Iterator[None]:
    """Fail a test that leaves a descriptor open.

    Set up before every other fixture of a test and so torn down after them: by then
    its clients are closed, its servers stopped and its event loops ended, so whatever
    is still open was leaked. A socket that was only dropped, not closed, and waits
    in a reference cycle is closed by the collection below with a ResourceWarning,
    which ``filterwarnings = error`` turns into a failure too.
    """
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("counting descriptors needs /proc")
    before = _open_fds()
    yield
    leaked = _open_fds() - before
    if leaked:  # perhaps only waiting in a reference cycle: collect, and count again
        gc.collect()
        leaked = _open_fds() - before
    assert not leaked, f"descriptors left open: {sorted(leaked)}"


# --- TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    return server_context(ca.issue_cert("127.0.0.1", "localhost"))


@pytest.fixture(scope="session")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


# --- servers --------------------------------------------------------------------------


@pytest.fixture
def scripted(server_tls: ssl.SSLContext) -> Iterator[StartScripted]:
    """Start scripted servers: ``scripted(*replies, tls=False, mode="script",
    ssl_context=None)``; each stops at the end of the test."""
    with contextlib.ExitStack() as stack:

        def start(
            *replies: Reply,
            tls: bool = False,
            mode: Mode = "script",
            ssl_context: ssl.SSLContext | None = None,
        ) -> ScriptedServer:
            context = ssl_context or (server_tls if tls else None)
            server = ScriptedServer(*replies, ssl_context=context, mode=mode)
            return stack.enter_context(server)

        yield start


@pytest.fixture
def standin(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., str]]:
    """Start stand-in servers: ``standin(**config)`` returns the base URL."""
    with contextlib.ExitStack() as stack:

        def start(**config: Any) -> str:
            config.setdefault("quiet", True)
            server = stack.enter_context(BackgroundServer(ServerConfig(**config)))
            return server.base_url

        yield start
    # A bug in the server is reported even when quiet; it would make a client test
    # fail for the wrong reason, so say so.
    assert "internal error" not in capsys.readouterr().err


@pytest.fixture(params=FLAVOURS)
def make_client(request: pytest.FixtureRequest, client_tls: ssl.SSLContext) -> Iterator[MakeClient]:
    """Make clients of one flavour: ``make_client(base_url, **options)``.

    Options are the client's; unless given, ``timeout`` is :data:`GENEROUS`, ``verify``
    trusts the test CA, and ``max_retries`` is 0, so that a test of a fault sees the
    fault itself and not a retry of it. Every client is closed at the end of the test.
    """
    flavour = str(request.param)
    with contextlib.ExitStack() as stack:
        portal = None
        if flavour != "blocking":
            backend = "asyncio" if flavour == "anyio-asyncio" else "trio"
            portal = stack.enter_context(anyio.from_thread.start_blocking_portal(backend))

        def make(base_url: str, **options: Any) -> ClientUnderTest:
            options.setdefault("timeout", GENEROUS)
            options.setdefault("max_retries", 0)
            options.setdefault("verify", client_tls)
            if portal is None:
                client: Any = Client(base_url, **options)
            else:
                cls = TrioClient if flavour == "trio" else AsyncClient
                # Made in its event loop: an async client's semaphore belongs to one.
                client = portal.call(functools.partial(cls, base_url, **options))
            under_test = ClientUnderTest(flavour, client, portal)
            stack.callback(under_test.close)
            return under_test

        yield make
