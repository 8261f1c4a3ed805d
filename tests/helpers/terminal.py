"""Running ``purai`` on a pseudo-terminal, as a person at a terminal runs it.

The command gets the terminal as its controlling terminal, in a session of its own,
so that the terminal does what a real one does: it echoes and edits lines, and a
typed Ctrl-C (``\\x03``) sends SIGINT to the command, not to the tests.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
from types import TracebackType

from .paths import ROOT

__all__ = ["Terminal"]

# The longest a test waits for what it expects to appear: only a test that went
# wrong waits this long.
_PATIENCE = 30.0
# Run first in the new session: take the terminal on standard input as the session's
# controlling terminal (subprocess cannot), then become the command.
_TAKE_THE_TERMINAL = (
    "import fcntl, os, sys, termios; "
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


class Terminal:
    """``purai *args`` on a pseudo-terminal: :meth:`type` into it, :meth:`read_until`
    what it shows (with the terminal's CR LF line ends made LF)."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PURAI_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["TERM"] = "dumb"  # readline then writes no escape sequences to read past
        self._command = [
            sys.executable, "-c", _TAKE_THE_TERMINAL, "-m", "purai_transports.cli", *args,
        ]  # fmt: skip
        self._env = env
        self._master = -1
        self._process: subprocess.Popen[bytes] | None = None
        self._unread = b""
        self.shown = ""  # everything read so far

    def __enter__(self) -> Terminal:
        master, slave = os.openpty()
        # A typed Ctrl-C makes a terminal discard the output not yet read, and so
        # whatever the command writes in the instant after it, racing its signal.
        # NOFLSH keeps it: the tests read all that the command wrote.
        modes = termios.tcgetattr(slave)
        modes[3] |= termios.NOFLSH  # 3: the local modes
        termios.tcsetattr(slave, termios.TCSANOW, modes)
        try:
            self._process = subprocess.Popen(
                self._command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self._env,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self._master = master
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(timeout=_PATIENCE)
        os.close(self._master)

    def type(self, keys: str) -> None:
        """Type ``keys``: ``"\\r"`` is Enter, ``"\\x03"`` Ctrl-C, ``"\\x04"`` Ctrl-D."""
        os.write(self._master, keys.encode())

    def read_until(self, expected: str) -> str:
        """What the terminal shows from here up to and including ``expected``."""
        while expected.encode() not in self._unread:
            if not self._read_some():
                raise AssertionError(f"{expected!r} never appeared; shown so far: {self.shown!r}")
        end = self._unread.index(expected.encode()) + len(expected.encode())
        text, self._unread = self._unread[:end].decode(), self._unread[end:]
        return text.replace("\r\n", "\n")

    def exit_status(self) -> int:
        """Wait for the command to end; its exit status (what is left is read)."""
        assert self._process is not None
        while self._read_some():
            pass
        return self._process.wait(timeout=_PATIENCE)

    def _read_some(self) -> bool:
        """Read what arrives within the patience; False at the end or on none."""
        ready, _, _ = select.select([self._master], [], [], _PATIENCE)
        if not ready:
            return False
        try:
            data = os.read(self._master, 4096)
        except OSError:  # EIO: every process holding the terminal has ended
            return False
        self._unread += data
        self.shown += data.decode(errors="replace").replace("\r\n", "\n")
        return bool(data)
