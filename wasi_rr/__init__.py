"""wasi-rr: a deterministic record/replay journaling host for WASI preview1 programs."""

from __future__ import annotations

__version__ = "0.1.0"
