"""Finding the journals of a corpus: files named on the command line, and every
``*.wrr`` below the directories named there.

Why these rules: a file the user names explicitly is checked whatever its
suffix (a journal saved as ``bug-1234.bin`` is still a journal, and if it is
not, ``check`` reports it as damaged rather than silently skipping it); inside
directories only ``*.wrr`` counts, and names starting with ``.`` are skipped
like the pytest plugin skips them (a recorder's temporary file is renamed into
place when complete). Directory symlinks are not followed, so a link cycle
cannot make discovery endless, and the order is sorted so that two runs over
the same tree report the same list.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wasi_rr.errors import WasiRrError

__all__ = ["JOURNAL_SUFFIX", "CheckError", "Found", "find_journals"]

JOURNAL_SUFFIX = ".wrr"


class CheckError(WasiRrError):
    """``check`` cannot start: a path that does not exist, no journal found, no Dask."""


@dataclass(frozen=True, slots=True)
class Found:
    """A journal to check: its path as the user would write it, and its size."""

    path: Path
    size: int


def find_journals(paths: Iterable[str | os.PathLike[str]]) -> list[Found]:
    """Every journal named by ``paths`` (files as given, ``*.wrr`` under directories).

    Each file appears once even if named twice (two spellings of one path; a
    symlink to a journal under another name still counts twice, harmlessly);
    raises ``CheckError`` for a path that does not exist and when nothing is found.
    """
    given = [Path(p) for p in paths]
    if not given:
        raise CheckError("no path given: name journals or directories holding them")
    seen: set[str] = set()
    found: list[Found] = []
    for root in given:
        for path in _journals_under(root):
            key = os.path.abspath(path)
            if key in seen:
                continue
            seen.add(key)
            try:
                found.append(Found(path, path.stat().st_size))
            except OSError as exc:
                raise CheckError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not found:
        raise CheckError("no journals (*.wrr) found under "
                         + ", ".join(str(p) for p in given))
    return sorted(found, key=lambda f: str(f.path))


def _journals_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise CheckError(f"no such file or directory: {root}")
    journals: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        base = Path(directory)
        journals.extend(base / f for f in sorted(files)
                        if f.endswith(JOURNAL_SUFFIX) and not f.startswith("."))
    return journals
