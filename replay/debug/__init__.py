"""Time-travel debugging of a recorded run (``wasi-rr debug``, ``wasi-rr dap``,
``replay --gdb``, ``resume --at``): see docs/debugging.md."""

from .index import JournalIndex
from .load import open_session
from .reply import DebugError, Reply
from .session import Session

__all__ = ["DebugError", "JournalIndex", "Reply", "Session", "open_session"]
