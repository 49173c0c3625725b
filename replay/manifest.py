"""``manifest.toml``: how each committed trace is (re-)recorded.

A directory of journals is a regression suite; the manifest next to them says
which corpus program and which arguments, environment, mounts and stdin
produce each one, so ``--wasi-rr-record-mode=rewrite`` can re-record them after
an intended behaviour change. Format (one table per trace, named after the
journal file without ``.wrr``)::

    builder = "../../tests/guestbuild.py"   # relative to the manifest; exposes build(name) -> Path

    [traces.args_env]
    program = "args_env"          # corpus program, built by the builder
    args = ["alpha", "b c"]
    env = { GREETING = "hi" }
    tmpfs = ["/data"]             # empty in-memory preopens
    stdin = "text fed to stdin"   # optional (UTF-8); stdin is empty otherwise

Host-directory mounts are deliberately not offered: a trace must be
re-recordable on any machine from the repository alone.
"""

from __future__ import annotations

import importlib.util
import io
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["Manifest", "ManifestError", "TraceSpec", "load_manifest", "record_trace"]

MANIFEST_NAME = "manifest.toml"


class ManifestError(Exception):
    """The manifest is unreadable or describes a trace wrongly (a user error)."""


@dataclass(frozen=True, slots=True)
class TraceSpec:
    """How to record one trace."""

    name: str
    program: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    tmpfs: tuple[str, ...] = ()
    stdin: bytes = b""


@dataclass(slots=True)
class Manifest:
    path: Path
    builder: Path | None
    traces: dict[str, TraceSpec] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.path.parent

    def journal_path(self, name: str) -> Path:
        return self.directory / f"{name}.wrr"


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{what} must be a list of strings")
    return tuple(value)


def load_manifest(path: Path) -> Manifest:
    """Parse ``path`` (``ManifestError`` on any problem)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    builder = data.get("builder")
    manifest = Manifest(path, (path.parent / builder).resolve() if builder else None)
    traces = data.get("traces", {})
    if not isinstance(traces, dict):
        raise ManifestError(f"{path}: [traces] must be a table")
    for name, t in traces.items():
        where = f"{path}: traces.{name}"
        if not isinstance(t, dict) or not isinstance(t.get("program"), str):
            raise ManifestError(f"{where}: needs program = \"NAME\"")
        unknown = set(t) - {"program", "args", "env", "tmpfs", "stdin"}
        if unknown:
            raise ManifestError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        env = t.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise ManifestError(f"{where}: env must be a table of strings")
        stdin = t.get("stdin", "")
        if not isinstance(stdin, str):
            raise ManifestError(f"{where}: stdin must be a string")
        manifest.traces[name] = TraceSpec(
            name, t["program"], _strings(t.get("args", []), f"{where}.args"),
            tuple(env.items()), _strings(t.get("tmpfs", []), f"{where}.tmpfs"),
            stdin.encode())
    return manifest


def _load_builder(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_wasi_rr_builder_{abs(hash(path))}", path)
    if spec is None or spec.loader is None:
        raise ManifestError(f"cannot load builder {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "build", None)):
        raise ManifestError(f"builder {path} has no build(name) function")
    return module


def record_trace(manifest: Manifest, spec: TraceSpec, target: Path | None = None) -> Path:
    """Build ``spec.program`` and record it into ``target`` (default: next to the
    manifest), atomically (a temporary file renamed into place, so parallel
    test workers and interrupted runs never leave a half-written trace)."""
    from wasi_rr.api import RunConfig
    from wasi_rr.record import record

    if manifest.builder is None:
        raise ManifestError(f"{manifest.path}: no builder = \"...\" to build programs with")
    wasm = Path(_load_builder(manifest.builder).build(spec.program))
    target = target if target is not None else manifest.journal_path(spec.name)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.name}.", suffix=".wrr.tmp")
    os.close(fd)
    sink = io.BytesIO()
    config = RunConfig(module=wasm, args=list(spec.args), env=dict(spec.env),
                       tmpfs=list(spec.tmpfs), stdin=io.BytesIO(spec.stdin),
                       stdout=sink, stderr=sink, argv0=f"{spec.program}.wasm")
    try:
        record(config, tmp, meta={"trace": spec.name, "host": "", "platform": ""})
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
