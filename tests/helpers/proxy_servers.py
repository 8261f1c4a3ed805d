"""Proxies for the proxy tests: real ones nobody here wrote, and a scripted SOCKS5 one.

* :func:`start_pproxy`: ``pproxy`` (from PyPI: HTTP ``CONNECT``, absolute form and
  SOCKS5, with logins, over TLS too) as a subprocess on a free loopback port.
* :func:`start_tinyproxy`: Debian's tinyproxy, where it is installed.
* :class:`ScriptedSocks5Proxy`: answers the SOCKS5 handshake with exactly the bytes a
  test gives, in a thread, for the refusals and faults a good proxy never sends. (HTTP
  proxies are scripted with :class:`tests.servers.ScriptedServer`, which reads a
  ``CONNECT`` as any other request.)

The subprocesses keep no descriptor of this process open (their output goes to a log
file, closed here at once), so the tests' descriptor check sees none of theirs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from .scripted_replies import HANG, Action

__all__ = ["RunningProxy", "ScriptedSocks5Proxy", "free_port", "start_pproxy", "start_tinyproxy"]

# How long a proxy may take to start listening: only bounds a test that went wrong.
_START_LIMIT = 20.0
_POLL = 0.01


def free_port() -> int:
    """A loopback port nothing listens on now, for a subprocess to listen on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class RunningProxy:
    """A proxy subprocess.

    Attributes:
        url: Its URL for ``proxy=``, credentials included.
        log: Where its output goes.
        process: The process.
    """

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def saw(self, text: str) -> bool:
        """Whether the proxy logged ``text`` (pproxy logs ``-> host:port`` for each
        connection it makes for a client)."""
        return text in self.log.read_text(encoding="utf-8", errors="replace")


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(_POLL)
    raise RuntimeError("the proxy did not start listening")


@contextlib.contextmanager
def _running(command: Sequence[str], port: int, url: str, log: Path) -> Iterator[RunningProxy]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its log is read while it runs
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        _wait_listening(port, process, log)
        yield RunningProxy(url, log, process)
    finally:
        process.kill()
        process.wait(timeout=30)


def start_pproxy(
    log: Path, *, schemes: str, login: str | None = None, tls: tuple[Path, Path] | None = None
) -> contextlib.AbstractContextManager[RunningProxy]:
    """Run pproxy on a free loopback port.

    Args:
        log: Its output.
        schemes: What it serves, as pproxy names them: ``"http+socks5"``, ``"http"``.
        login: ``user:password`` it asks for; every connection must log in
            (``--auth 0``: pproxy otherwise trusts an address that logged in once).
        tls: ``(certificate, key)`` files to serve TLS with (an ``https://`` proxy).

    Returns:
        A context manager giving the :class:`RunningProxy`; its ``url`` has the
        scheme ``http`` (``https`` with ``tls``) and the login.
    """
    port = free_port()
    listen = f"{schemes}{'+ssl' if tls else ''}://127.0.0.1:{port}"
    command = [sys.executable, "-m", "pproxy", "-v", "-l", listen + (f"#{login}" if login else "")]
    if login:
        command += ["--auth", "0"]
    if tls:
        command += ["--ssl", f"{tls[0]},{tls[1]}"]
    credentials = f"{login}@" if login else ""
    url = f"{'https' if tls else 'http'}://{credentials}127.0.0.1:{port}"
    return _running(command, port, url, log)


def start_tinyproxy(folder: Path) -> contextlib.AbstractContextManager[RunningProxy]:
    """Run tinyproxy (HTTP ``CONNECT`` and absolute form) on a free loopback port, in
    the foreground, with a configuration of its own in ``folder``.

    Raises:
        FileNotFoundError: tinyproxy is not installed.
    """
    binary = shutil.which("tinyproxy")
    if binary is None:
        raise FileNotFoundError("tinyproxy")
    port = free_port()
    config = folder / "tinyproxy.conf"
    # No ConnectPort line: CONNECT to any port (the test servers' are random).
    config.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nLogLevel Info\n",
        encoding="utf-8",
    )
    log = folder / "tinyproxy.log"
    return _running([binary, "-d", "-c", str(config)], port, f"http://127.0.0.1:{port}", log)


class ScriptedSocks5Proxy:
    """A loopback SOCKS5 proxy that answers each message of a client with the next
    scripted step, and opens no tunnel.

    Args:
        steps: For each message the client sends (one read each), the bytes to
            answer with, or :data:`~tests.servers.HANG` (send nothing, hold the
            connection) or ``CLOSE`` (close it). After the last step it closes.

    Attributes:
        received: The messages read, in order, on the last connection.
    """

    def __init__(self, *steps: bytes | Action) -> None:
        self._steps = steps
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.received: list[bytes] = []

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> ScriptedSocks5Proxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)
        self._listener.close()

    def _serve(self) -> None:
        self._listener.settimeout(_POLL)
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            with sock:
                self.received = []
                self._answer(sock)

    def _answer(self, sock: socket.socket) -> None:
        sock.settimeout(_POLL)
        for step in self._steps:
            message = self._read(sock)
            if message is None:
                return
            self.received.append(message)
            if step is HANG:
                while not self._stopping.is_set() and self._read(sock) is not None:
                    pass
                return
            if isinstance(step, Action):  # CLOSE
                return
            sock.sendall(step)

    def _read(self, sock: socket.socket) -> bytes | None:
        """One message; None at EOF or when stopping."""
        while not self._stopping.is_set():
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return None
            return data or None
        return None
