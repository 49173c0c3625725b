"""``wasi-rr dump``: the subcommand lives in ``wasi_rr.dump`` (journal owner)."""

from __future__ import annotations

from .dump import add_parser

__all__ = ["add_parser"]
