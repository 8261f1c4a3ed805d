"""What a failed connect, read or write becomes: the library's errors, worded once.

Each async backend sorts what its I/O library raised into "the time ran out" or "it
failed" in its ``_failure()``, the one place that knows that library's exceptions;
:func:`failure` then makes the error the caller sees, the same for both.
"""

from __future__ import annotations

import ssl
from typing import Literal

from purai_proto import PuraiError

from .._core.errors import ConnectError, NetworkError, TimeoutException, TLSError

__all__ = ["Doing", "failure", "tls_failure"]

#: What a stream or a backend was doing when it failed.
Doing = Literal["connect", "read", "write"]

_TIMED_OUT: dict[Doing, str] = {
    "connect": "connecting to {where} took over {timeout:.3g} s",
    "read": "no data for {timeout:.3g} s",
    "write": "sending took over {timeout:.3g} s",
}
_BROKE: dict[Doing, str] = {
    "connect": "cannot connect to {where}: {exc!r}",
    "read": "reading from the server failed: {exc!r}",
    "write": "sending to the server failed: {exc!r}",
}


def failure(
    doing: Doing,
    exc: BaseException,
    *,
    timed_out: bool,
    timeout: float | None,
    on_timeout: type[TimeoutException],
    where: str = "",
) -> PuraiError:
    """The library's error for ``exc``, which stopped ``doing``.

    Args:
        doing: What failed.
        exc: What the I/O library raised; for a TLS handshake, the ``ssl`` error.
        timed_out: ``exc`` is the library's own "time ran out".
        timeout: The limit that ran out, in seconds.
        on_timeout: The error for that limit.
        where: ``host:port``, for a connect.
    """
    if timed_out:
        return on_timeout(_TIMED_OUT[doing].format(where=where, timeout=timeout))
    if doing == "connect":
        if isinstance(exc, ssl.SSLError):
            return tls_failure(exc, where)
        return ConnectError(_BROKE[doing].format(where=where, exc=exc))
    return NetworkError(_BROKE[doing].format(exc=exc))


# A handshake cut short by the network may succeed on a retry; the rest are the
# peer's answer, and would be the same on every retry.
_CUT_SHORT = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def tls_failure(exc: ssl.SSLError, where: str) -> ConnectError:
    """The error for a TLS handshake with ``where`` that failed with ``exc``.

    :class:`TLSError` (not retried) when the peer answered with something TLS cannot
    accept: a certificate that does not verify, no common protocol or cipher, or no
    TLS at all (``WRONG_VERSION_NUMBER``: a plain-HTTP port, most often). A plain
    :class:`ConnectError` (retried) when the connection closed mid-handshake.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSError(f"the certificate of {where} did not verify: {exc.verify_message}")
    if isinstance(exc, _CUT_SHORT):
        return ConnectError(f"the TLS handshake with {where} broke off: {exc}")
    if exc.reason == "WRONG_VERSION_NUMBER":
        return TLSError(
            f"TLS with {where} failed: the server did not answer in TLS "
            "(is it a plain-HTTP port? then use http://)"
        )
    return TLSError(f"TLS with {where} failed: {exc.reason or exc}")
