"""pytest plugin: a directory of journals is a regression suite.

Every ``*.wrr`` journal under a directory listed in the ini option
``wasi_rr_traces`` is collected as one test item, ``path/to/x.wrr::replay``,
which replays the journal in-process (the embedded module, no files, clocks or
stdin needed) and fails with the divergence report if the guest no longer
does what was recorded. Items are independent, so ``pytest -n auto`` spreads
them over workers.

Record modes, as in pytest-recording (``--wasi-rr-record-mode``):

- ``none`` (default, CI): only replay; a trace listed in ``manifest.toml``
  whose journal is missing fails.
- ``once``: record the manifest's traces whose journal is missing, then replay.
- ``rewrite``: re-record every trace the manifest describes, then replay.

Registered through the ``pytest11`` entry point ``wasi_rr``; configure with::

    [tool.pytest.ini_options]
    wasi_rr_traces = ["corpus/traces"]
"""

from __future__ import annotations

import enum
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ManifestFile", "RecordMode", "TraceFile", "TraceItem"]

INI_TRACES = "wasi_rr_traces"
OPTION = "--wasi-rr-record-mode"


class RecordMode(enum.Enum):
    NONE = "none"
    ONCE = "once"
    REWRITE = "rewrite"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI_TRACES, "directories whose *.wrr journals are replayed as tests "
                  "(relative to the ini file)", type="paths", default=[])
    group = parser.getgroup("wasi-rr", "wasi-rr trace replay")
    group.addoption(OPTION, dest="wasi_rr_record_mode", default=RecordMode.NONE.value,
                    choices=[m.value for m in RecordMode],
                    help="none: replay only (default); once: record missing traces from "
                         "manifest.toml; rewrite: re-record every trace in a manifest")


_DIRS_KEY = pytest.StashKey[list[Path]]()


def _trace_dirs(config: pytest.Config) -> list[Path]:
    """The configured trace directories, resolved once per session."""
    cached = config.stash.get(_DIRS_KEY, None)
    if cached is None:
        try:
            dirs = config.getini(INI_TRACES)
        except ValueError:
            dirs = []
        cached = config.stash[_DIRS_KEY] = [Path(d).resolve() for d in dirs]
    return cached


def _in_trace_dirs(path: Path, config: pytest.Config) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(d) for d in _trace_dirs(config))


def _mode(config: pytest.Config) -> RecordMode:
    return RecordMode(config.getoption("wasi_rr_record_mode"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if file_path.suffix not in (".wrr", ".toml") or not _in_trace_dirs(file_path, config):
        return None
    if file_path.suffix == ".wrr" and not file_path.name.startswith("."):
        return TraceFile.from_parent(parent, path=file_path)
    if file_path.name == "manifest.toml":
        return ManifestFile.from_parent(parent, path=file_path)
    return None


def _manifest_for(journal: Path) -> Any:
    """The manifest next to ``journal`` (or None); errors surface when recording."""
    from .manifest import MANIFEST_NAME, load_manifest

    path = journal.parent / MANIFEST_NAME
    return load_manifest(path) if path.is_file() else None


class TraceFile(pytest.File):
    """A journal file: one ``replay`` item."""

    def collect(self) -> Iterator[pytest.Item]:
        yield TraceItem.from_parent(self, name="replay", journal=self.path)


class ManifestFile(pytest.File):
    """Items for the manifest's traces that have no journal yet (recorded in
    ``once``/``rewrite`` mode, a failure in ``none`` mode)."""

    def collect(self) -> Iterator[pytest.Item]:
        from .manifest import load_manifest

        manifest = load_manifest(self.path)
        for name in manifest.traces:
            journal = manifest.journal_path(name)
            if not journal.exists():
                yield TraceItem.from_parent(self, name=f"{name}.wrr", journal=journal)


class TraceDivergence(Exception):
    """A trace replay diverged; the message is the divergence report."""


class TraceItem(pytest.Item):
    """Replay one journal (recording it first if the record mode says so)."""

    def __init__(self, *, journal: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journal = journal

    def runtest(self) -> None:
        from .engine import replay

        self._maybe_record()
        if not self.journal.exists():
            raise TraceDivergence(
                f"trace {self.journal.name} is missing; record it with "
                f"pytest {OPTION}=once")
        out, err = io.BytesIO(), io.BytesIO()
        result = replay(self.journal, stdout=out, stderr=err, warn=lambda _m: None)
        if result.divergence is not None:
            raise TraceDivergence(result.divergence.report())

    def _maybe_record(self) -> None:
        mode = _mode(self.config)
        if mode is RecordMode.NONE:
            return
        if mode is RecordMode.ONCE and self.journal.exists():
            return
        from .manifest import record_trace

        manifest = _manifest_for(self.journal)
        spec = manifest.traces.get(self.journal.stem) if manifest is not None else None
        if spec is None:
            if mode is RecordMode.REWRITE:
                return  # a journal nobody knows how to re-record: keep and replay it
            raise TraceDivergence(f"trace {self.journal.name} is not described in a "
                                  "manifest.toml next to it; cannot record it")
        record_trace(manifest, spec, self.journal)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        from wasi_rr.journal import JournalError

        from .manifest import ManifestError

        if isinstance(excinfo.value, (TraceDivergence, JournalError, ManifestError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.journal, None, f"wasi-rr replay {self.journal.name}"
