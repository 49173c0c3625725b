"""Capturing the host directories a guest can see, so ``--verify`` can rebuild them.

A journal records what crossed the WASI boundary, not the files behind a
host-directory preopen; verify mode re-executes calls on a kernel and needs
the directory as it was when the guest started. ``capture_dirs`` walks each
mounted host directory *before* the run and stores it content-addressed and
deduplicated (like ``rr pack``): a list of ``(path, kind, payload)`` per mount
(payload: a blob's SHA-256 for a file, the target for a symlink) and one
``sha256 -> bytes`` table shared by all mounts. ``wasi-rr record`` stores
the capture in the journal header's ``meta`` (under
``CAPTURE_KEY``), which every reader already carries along.

Only small trees belong in a journal: capturing stops with ``CaptureError``
beyond ``max_bytes`` (default 16 MiB). ``materialize`` writes a capture back
to a fresh directory, which verify mounts as an overlay (never modified).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol


class Mounted(Protocol):
    """A host directory preopened at a guest path (``wasi_rr.api.DirMount``)."""

    host: Path
    guest: str


__all__ = ["CAPTURE_KEY", "CaptureError", "capture_dirs", "materialize"]

CAPTURE_KEY = "wasi_rr.fs_capture"
DEFAULT_MAX_BYTES = 16 << 20


class CaptureError(Exception):
    """A host directory cannot be captured (too large, unreadable)."""


def capture_dirs(dirs: Iterable[Mounted], *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """``{"mounts": {guest: [[relpath, kind, payload], ...]}, "blobs": {sha: bytes}}``."""
    mounts: dict[str, list[list[str]]] = {}
    blobs: dict[str, bytes] = {}
    total = 0
    for d in dirs:
        root = Path(d.host)
        entries: list[list[str]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            here = Path(dirpath)
            rel_dir = here.relative_to(root).as_posix()
            if rel_dir != ".":
                entries.append([rel_dir, "dir", ""])
            for name in sorted(filenames) + [n for n in dirnames if (here / n).is_symlink()]:
                path = here / name
                rel = path.relative_to(root).as_posix()
                if path.is_symlink():
                    entries.append([rel, "symlink", os.readlink(path)])
                    continue
                if not path.is_file():
                    continue  # sockets, fifos, devices: not representable
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise CaptureError(f"cannot capture {path}: {exc.strerror or exc}") from None
                sha = hashlib.sha256(data).hexdigest()
                if sha not in blobs:
                    total += len(data)
                    if total > max_bytes:
                        raise CaptureError(f"host directories exceed {max_bytes} bytes; too "
                                           "large to embed in a journal")
                    blobs[sha] = data
                entries.append([rel, "file", sha])
        mounts[d.guest] = entries
    return {"mounts": mounts, "blobs": blobs}


def materialize(capture: Mapping[str, Any], guest: str, target: Path) -> None:
    """Write mount ``guest`` of ``capture`` into the new directory ``target``."""
    blobs = capture["blobs"]
    target.mkdir(parents=True)
    for rel, kind, payload in capture["mounts"][guest]:
        path = target / rel
        if kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "symlink":
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(payload, path)
        elif kind == "file":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(blobs[payload]))
