"""Check a journaled call against the table (what the journal layer cannot know).

A crafted journal can have valid framing and checksums and still name a
function with the wrong number of params, or put 2**40 in an i32: every
consumer (replay, dump, the debugger) passes this check to the reader so such
an entry becomes one precise "journal corrupt at entry N" line.
"""

from __future__ import annotations

from typing import Any

from .roles import WasmType
from .signatures import SIGNATURES

_I32_LIMIT = 1 << 32


def validate_call(call: Any) -> tuple[str, str] | None:
    """``(field, what is wrong)`` for a call the table rejects, else None.

    ``call`` has ``module``, ``name``, ``params`` (a ``journal.Call``)."""
    sig = SIGNATURES.get((call.module, call.name))
    if sig is None:
        return ("function", f"{call.module}::{call.name} is not one wasi-rr provides")
    if len(call.params) != len(sig.params):
        return ("params", f"of {sig.name}: {len(call.params)} values, the function has "
                f"{len(sig.params)}")
    for p, value in zip(sig.params, call.params, strict=True):
        if p.wasm is WasmType.I32 and value >= _I32_LIMIT:
            return (f"param {p.name}", f"of {sig.name} is {value}, out of range for an i32")
    return None
