"""The guest's wasm frames at a trap (for divergence reports and the debugger)."""

from __future__ import annotations

import re
from typing import Final

from wasmtime import Trap, WasmtimeError

from .divergence import WasmFrame

_FRAME_LINE: Final = re.compile(r"^\s*\d+:\s+(0x[0-9a-fA-F]+) - (?:(.*?)!)?(.*)$")
_UNNAMED: Final = re.compile(r"^<wasm function (\d+)>$")
REPLAYER_NAMES: Final = frozenset({"wasi-rr-replayer", "wasi-rr-stub"})
"""Module names of wasi-rr's own wasm (left out: they are not the guest's frames)."""


def frames_of(error: Exception) -> list[WasmFrame]:
    """The guest's frames, innermost first.

    A trap returned by a host function reaches Python as a ``WasmtimeError``
    (not a ``Trap`` with ``frames``), whose text carries wasmtime's rendered
    backtrace (``N: 0xOFFSET - module!name``); a ``Trap`` has structured frames.
    """
    if isinstance(error, Trap):
        try:
            return [WasmFrame(f.func_index, f.func_name, f.module_offset)
                    for f in error.frames if f.module_name not in REPLAYER_NAMES]
        except (WasmtimeError, AttributeError, ValueError):
            return []
    frames: list[WasmFrame] = []
    text = str(error).split("Caused by:", 1)[0]
    for line in text.splitlines():
        m = _FRAME_LINE.match(line)
        if m is None or m.group(2) in REPLAYER_NAMES:
            continue
        offset, name = int(m.group(1), 16), m.group(3).strip()
        if name.split("!")[0] in REPLAYER_NAMES:
            continue
        unnamed = _UNNAMED.match(name)
        if unnamed is not None:
            frames.append(WasmFrame(int(unnamed.group(1)), None, offset))
        else:
            frames.append(WasmFrame(None, name, offset))
    return frames
