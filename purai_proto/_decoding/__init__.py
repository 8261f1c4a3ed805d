"""The incremental decoder of streamed bodies, one module per job.

- ``chunk_decoder``: :class:`ChunkDecoder`, its arguments, and telling the framing
  from the first bytes.
- ``concatenated``, ``json_array``, ``sse``: one module per framing (``concatenated``
  also reads NDJSON); ``framing`` holds what they share.
- ``values``: the msgspec decoders for one type, and error objects sent in place of
  chunks.
- ``scanner``: the exact, incremental scanner for where JSON values end.
"""

from .chunk_decoder import DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_OBJECT_SIZE, ChunkDecoder, Framing

__all__ = ["DEFAULT_MAX_BUFFER_SIZE", "DEFAULT_MAX_OBJECT_SIZE", "ChunkDecoder", "Framing"]
