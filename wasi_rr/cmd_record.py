"""``wasi-rr record``: the subcommand lives in ``wasi_rr.record`` (journal owner)."""

from __future__ import annotations

from typing import Any

from .record import add_record_parser


def add_parser(subparsers: Any) -> Any:
    return add_record_parser(subparsers)
