"""Third-party programs recorded through the CLI, then replayed from the journal alone.

The issue's bar for replay: real programs nobody here wrote, recorded with host
directories and stdin, replay byte-identically from the journal alone in an empty
directory, three times in a row, and ``--verify`` (re-execution on a kernel
rebuilt from the journal) agrees with every recorded answer. The recording's
host directory is deleted before replaying, so nothing but the journal is there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_thirdparty_programs import SCENARIOS, Scenario

pytestmark = pytest.mark.thirdparty

STDIN = b"alpha beta\ngamma\n\x00\xffbinary tail\n"

STDIN_SCENARIOS = [
    Scenario("micropython-stdin", "micropython",
             ("-c", "import sys\ndata = sys.stdin.buffer.read()\n"
                    "print(len(data), data.upper())\nopen('/data/copy.bin', 'wb').write(data)"),
             trap_unknown_imports=True),
    Scenario("quickjs-stdin", "quickjs",
             ("--std", "-e", "const t = std.in.readAsString(); print(t.length, t.toUpperCase())")),
]


def _cli(
    *args: str | os.PathLike[str], cwd: Path, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "wasi_rr", *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.parametrize("s", SCENARIOS + STDIN_SCENARIOS, ids=lambda s: s.id)
def test_record_then_replay_from_journal_alone(
    s: Scenario, thirdparty_program: Callable[[str], Path], tmp_path: Path
) -> None:
    module = tmp_path / "program.wasm"
    shutil.copyfile(thirdparty_program(s.program), module)
    data = tmp_path / "data"
    data.mkdir()
    for name, content in s.files.items():
        (data / name).write_bytes(content)
    journal = tmp_path / "run.wrr"
    options = ["--dir", f"{data}::/data", *(f"--tmpfs={t}" for t in s.tmpfs)]
    if s.trap_unknown_imports:
        options.append("--trap-unknown-imports")
    stdin = STDIN if s in STDIN_SCENARIOS else b""
    recorded = _cli("record", "-o", journal, *options, module, *s.args, cwd=tmp_path, stdin=stdin)
    assert recorded.returncode == s.exit_code, recorded.stderr.decode(errors="replace")

    # nothing of the recording machine is left: no module, no data, no stdin
    shutil.rmtree(data)
    module.unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    for _ in range(3):
        replayed = _cli("replay", journal, cwd=empty)
        assert replayed.stdout == recorded.stdout
        assert replayed.stderr == recorded.stderr
        assert replayed.returncode == recorded.returncode
        assert os.listdir(empty) == []

    verified = _cli("replay", "--verify", journal, cwd=empty)
    assert verified.returncode == recorded.returncode, verified.stderr.decode(errors="replace")
    assert verified.stdout == recorded.stdout
