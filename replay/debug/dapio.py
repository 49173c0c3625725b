"""Debug Adapter Protocol framing: ``Content-Length: N\\r\\n\\r\\n`` + N bytes of JSON.

Why our own 40 lines: the DAP libraries on PyPI are either a Python debugger
(debugpy: its message layer is internal, not an API), types without I/O
(dap-types, which also brings pydantic) or clients (dap-python); the framing
itself is a header and a length, which the standard library reads exactly.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

__all__ = ["read_message", "write_message"]


def read_message(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message, or None at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            if length is None:
                continue
            break
        key, _, value = line.decode("ascii", "replace").partition(":")
        if key.strip().lower() == "content-length":
            length = int(value.strip())
    body = stream.read(length)
    if len(body) < length:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()
