"""Backends: where the bytes meet the network, one module per I/O library.

Each holds a byte stream (``read``, ``write``, ``is_readable``, ``close``) and a
backend that opens them (``connect``, ``sleep``), with the protocols they follow in
:mod:`purai_transports._core.runners`, and maps its library's exceptions to the
library's own at that one place: :mod:`.sockets` (stdlib ``socket`` and ``ssl``),
:mod:`.anyio`, :mod:`.trio`. :mod:`.failures` words the async ones' errors, and
:mod:`.early_reply` is what else they share.
"""
