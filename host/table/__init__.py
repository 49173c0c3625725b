"""The signature table: one row per WASI import, the roles of its parameters,
one codec per ABI struct, and the strace-like formatter derived from them.

Imports nothing but the kernel's vocabulary (``host.kernel.wasi_types``) and no
wasmtime, so journal tools can use it anywhere.
"""

from .roles import Fill, Param, Role, WasmType
from .signatures import (
    IO,
    PREVIEW1,
    SIGNATURE_LIST,
    SIGNATURES,
    WASIX,
    Feed,
    Signature,
    Startup,
    Verify,
    function_names,
    signature,
)
from .structs import OutKind

__all__ = [
    "IO",
    "PREVIEW1",
    "SIGNATURES",
    "SIGNATURE_LIST",
    "WASIX",
    "Feed",
    "Fill",
    "OutKind",
    "Param",
    "Role",
    "Signature",
    "Startup",
    "Verify",
    "WasmType",
    "function_names",
    "signature",
]
