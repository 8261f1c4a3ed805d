"""purai_proto: the sans-IO core of purai.

Bytes in, objects out, and no I/O: nothing here opens a socket, sleeps or starts a
task, so any event loop (or none) can drive it.
"""

from ._decoder import DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_OBJECT_SIZE, ChunkDecoder, Framing
from ._errors import LocalProtocolError, PuraiError, RemoteProtocolError
from ._models import (
    CacheReport,
    CalledFunction,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    Delta,
    ErrorBody,
    ErrorDetail,
    FunctionCall,
    FunctionDefinition,
    Message,
    ProviderRecord,
    ProviderResponse,
    Tool,
    ToolCall,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "DEFAULT_MAX_OBJECT_SIZE",
    "CacheReport",
    "CalledFunction",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "ChunkDecoder",
    "Delta",
    "ErrorBody",
    "ErrorDetail",
    "Framing",
    "FunctionCall",
    "FunctionDefinition",
    "LocalProtocolError",
    "Message",
    "ProviderRecord",
    "ProviderResponse",
    "PuraiError",
    "RemoteProtocolError",
    "Tool",
    "ToolCall",
    "Usage",
    "__version__",
]
