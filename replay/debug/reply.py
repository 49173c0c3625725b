"""What a debugger command answers: text for people, a JSON object for tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wasi_rr.errors import WasiRrError

__all__ = ["DebugError", "Reply"]


class DebugError(WasiRrError):
    """A command cannot be done as asked (a user mistake: one line, the session goes on)."""


@dataclass(slots=True)
class Reply:
    """One command's answer. ``data`` holds the machine-readable fields; the
    front end adds the position (``seq``, ``pid``) after the command."""

    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    notes: list[str] = field(default_factory=list)
    """One-time remarks printed before the text (e.g. why going back is slower)."""

    @classmethod
    def error(cls, message: str) -> Reply:
        return cls(message, {"error": message}, ok=False)
