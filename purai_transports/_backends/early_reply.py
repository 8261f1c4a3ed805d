"""Sending a long request while reading, so that an early answer is not lost.

A server may refuse a request from its head alone (a ``413`` for a body too large),
end its side and close without reading the rest, which resets the connection. The
blocking stream finds the answer in the kernel after its write failed. The async
streams cannot: asyncio's transports close the socket at the first failed write, and
trio's and anyio's TLS streams refuse to read once a write broke them. So for a
request longer than one read, they receive while they send, and keep what arrives for
their next read. A short request fits the socket buffers and is sent as it is.

Written once, on anyio's primitives, which run on trio too: :class:`EarlyReplyStream`
is what ``AnyioStream`` and ``TrioStream`` share.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import anyio

from .sockets import READ_SIZE, SocketPoller

__all__ = ["EARLY_REPLY_WAIT", "EarlyReplyStream", "may_be_answered_early", "send_while_reading"]

#: After a write failed, how long to wait for what the server sent before the
#: connection broke (it is already there, or arrives at once).
EARLY_REPLY_WAIT = 0.5


def may_be_answered_early(data: bytes) -> bool:
    """Whether a request is long enough to be answered before it is all sent."""
    return len(data) > READ_SIZE


async def send_while_reading(
    send: Callable[[], Awaitable[None]],
    receive: Callable[[], Awaitable[bytes]],
    broken: tuple[type[BaseException], ...],
) -> tuple[bytes, BaseException | None]:
    """Await ``send()`` while ``receive()`` (``b""`` at EOF) reads what comes.

    Returns:
        What was read (at most ``READ_SIZE`` bytes), and the exception ``send()``
        raised, if any, for the caller to raise once it kept the bytes. Cancellation
        is not caught.
    """
    early = bytearray()

    async def read() -> None:
        with contextlib.suppress(*broken):
            while len(early) < READ_SIZE:
                data = await receive()
                if not data:
                    return
                early.extend(data)

    failure: BaseException | None = None
    async with anyio.create_task_group() as readers:
        readers.start_soon(read)
        try:
            await send()
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:  # returned: the task group would wrap it
            failure = exc
        if isinstance(failure, broken):
            # The reader ends at the break, once it has what came before it.
            readers.cancel_scope.deadline = anyio.current_time() + EARLY_REPLY_WAIT
        else:
            readers.cancel_scope.cancel()
    return bytes(early), failure


class EarlyReplyStream:
    """What the anyio and the trio streams share: what was read while a long request
    was written, which the next read hands out first, and the socket's poller.

    A stream sends a long request with :meth:`_send_reading` and begins each read
    with :meth:`_take_early`.
    """

    __slots__ = ("_early", "_poller")

    def __init__(self) -> None:
        self._poller: SocketPoller | None = None  # made when first asked
        self._early = b""

    def _take_early(self) -> bytes:
        """What was read while the last request was written, once; ``b""`` for none."""
        early, self._early = self._early, b""
        return early

    async def _send_reading(
        self,
        send: Callable[[], Awaitable[None]],
        receive: Callable[[], Awaitable[bytes]],
        broken: tuple[type[BaseException], ...],
    ) -> None:
        """:func:`send_while_reading`, keeping what was read for the next read; raises
        what ``send()`` raised."""
        self._early, failure = await send_while_reading(send, receive, broken)
        if failure is not None:
            raise failure
