"""How the stand-in server behaves: :class:`ServerConfig` and the checks of its values."""

from __future__ import annotations

import dataclasses
import math
import os

from ._replies import DEFAULT_CHUNK_SIZE

__all__ = ["InvalidSetting", "ServerConfig"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """How the stand-in server behaves.

    Attributes:
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one (see :func:`serve`).
        delay: Seconds to wait before each streamed chunk.
        chunk_size: Characters of text per streamed chunk (the seed's is 5).
        gzip: Compress replies (``Content-Encoding: gzip``) for clients whose
            ``Accept-Encoding`` allows it, flushing after each streamed object.
        ndjson: Stream PurAI's routes as NDJSON (``application/x-ndjson``) instead
            of objects back to back. ``/v1`` always streams server-sent events.
        api_key: When set, every request needs ``Authorization: Bearer <api_key>``
            and gets 401 without it.
        reply: The text of every reply, instead of one derived from the prompt.
        reply_file: A UTF-8 file whose text is every reply, read once at start,
            byte for byte (line endings as they are).
        fail_status: Answer every chat request with this status (400 to 599) and an
            error body; 429 and 503 come with ``Retry-After: 1``.
        error_after: Stream this many chunks, then an error object
            (``{"status": 500, "error": {"message", "records"}}``), then end.
        cut_after: Stream this many chunks, then half of the next object, then close
            the connection without ending the body. At most the last object is cut.
        stall_after: Stream this many chunks, then send nothing more while keeping
            the connection open, until the client goes away.
        quiet: Log nothing for requests (a bug in the server is still reported).
        max_head_size: The largest request head accepted, in bytes (431 beyond).
        max_body_size: The largest request body accepted, in bytes (413 beyond).
    """

    host: str = "127.0.0.1"
    port: int = 0
    delay: float = 0.0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    gzip: bool = False
    ndjson: bool = False
    api_key: str | None = None
    reply: str | None = None
    reply_file: str | os.PathLike[str] | None = None
    fail_status: int | None = None
    error_after: int | None = None
    cut_after: int | None = None
    stall_after: int | None = None
    quiet: bool = False
    max_head_size: int = 16 * 1024
    max_body_size: int = 1024 * 1024

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidSetting("port", f"must be 0 to 65535, not {self.port}")
        if not (self.delay >= 0 and math.isfinite(self.delay)):
            raise InvalidSetting("delay", f"must be 0 or more seconds, not {self.delay}")
        if self.chunk_size < 1:
            raise InvalidSetting("chunk_size", f"must be at least 1, not {self.chunk_size}")
        if self.reply is not None and self.reply_file is not None:
            raise ValueError("give reply or reply_file, not both")
        if self.fail_status is not None and not 400 <= self.fail_status <= 599:
            raise InvalidSetting("fail_status", f"must be 400 to 599, not {self.fail_status}")
        for name in ("error_after", "cut_after", "stall_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidSetting(name, f"must not be negative, not {value}")
        if self.max_head_size < 1:
            raise InvalidSetting("max_head_size", f"must be positive, not {self.max_head_size}")
        if self.max_body_size < 0:
            raise InvalidSetting("max_body_size", f"must not be negative, not {self.max_body_size}")


class InvalidSetting(ValueError):
    """A :class:`ServerConfig` value out of range, naming the setting, so that the
    command line can say which of its options was wrong.

    Attributes:
        setting: The field of :class:`ServerConfig`, e.g. ``"chunk_size"``.
        problem: What is wrong with its value, e.g. ``"must be at least 1, not 0"``.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}")
        self.setting = setting
        self.problem = problem
