"""``python -m wasi_rr ...`` is ``wasi-rr ...``."""

from .cli import entry

entry()
