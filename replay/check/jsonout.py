"""``--json FILE``: the report as one JSON object (keys in docs/scale.md).

``CheckReport.to_dict`` decides the content; this only writes it, atomically
enough for CI (a temporary name renamed into place, so a reader never sees half
a file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .model import CheckReport

__all__ = ["write_json"]


def write_json(report: CheckReport, path: str | os.PathLike[str]) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(report.to_dict(), f, indent=2)
        f.write("\n")
    os.replace(tmp, target)
