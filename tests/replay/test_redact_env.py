"""``record --redact-env NAME``: the value never reaches the journal, and the
redacted journal replays (and verifies) without a divergence.

The guest (``corpus/redact_env.c``) prints the secret on stdout and stderr
(also split across two ``writev`` buffers), writes it into a file named after
it, reads it back, lists the directory and makes a symlink to a target named
after it; the secret is also in argv and, for a host directory, in a file
name and a file's contents captured for ``--verify``. The journal is read
back whole (the file's bytes, and every header field and record decompressed
through the reader): no trace of the value."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import open_journal
from wasi_rr.replay import replay
from wasi_rr.replay.divergence import DivergenceKind

SECRET = "s3cr3t-Value_42"
MASK = "*" * len(SECRET)


def cli(*args: str | Path, cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wasi_rr", *map(str, args)], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True,
                          timeout=120, check=False)


def everything_in(journal: Path) -> str:
    """The header and every entry, decompressed through the reader, as text."""
    with open_journal(journal) as r:
        parts = [repr(r.header), *(repr(entry) for entry in r)]
    return "\n".join(parts)


@dataclass
class Recorded:
    journal: Path
    host_dir: bool
    stdout: bytes
    """What the live guest printed (with the real value)."""


@pytest.fixture(params=["tmpfs", "host-dir"])
def recorded(request: pytest.FixtureRequest, guest: Callable[[str], Path],
             tmp_path: Path) -> Recorded:
    host_dir = request.param == "host-dir"
    if host_dir:
        data = tmp_path / "data"
        data.mkdir()  # captured for --verify: the secret in a name and in contents
        (data / f"file-old-{SECRET}.txt").write_text(f"was here before: {SECRET}\n")
        mount = ["--dir", "data::/w"]
    else:
        mount = ["--tmpfs", "/w"]
    rec = cli("record", "-o", "r.wrr", *mount, "--env", "SECRET", "--redact-env", "SECRET",
              guest("redact_env"), "/w", f"--password={SECRET}", cwd=tmp_path,
              env={"SECRET": SECRET})
    assert rec.returncode == 0, rec.stderr
    # the live guest had the real value
    assert rec.stdout.count(SECRET.encode()) == 5 + host_dir
    assert f"split: {SECRET}\n".encode() in rec.stdout
    assert rec.stderr == f"stderr: the secret is {SECRET}\n".encode()
    return Recorded(tmp_path / "r.wrr", host_dir, rec.stdout)


def test_the_value_never_reaches_the_journal(recorded: Recorded) -> None:
    journal = recorded.journal
    assert SECRET.encode() not in journal.read_bytes()
    text = everything_in(journal)
    assert SECRET not in text and SECRET.encode().hex() not in text
    assert MASK in text  # the placeholder took its place
    with open_journal(journal) as r:
        assert dict(r.header.env) == {"SECRET": MASK}
        assert r.header.redacted_env == ["SECRET"]
        assert r.header.argv[-1] == f"--password={MASK}"
    dump = cli("dump", "--json", "--header", journal, cwd=journal.parent)
    assert dump.returncode == 0 and SECRET.encode() not in dump.stdout


@pytest.mark.parametrize("fast", [True, False])
def test_the_redacted_journal_replays(recorded: Recorded, fast: bool) -> None:
    """The replayed guest sees the placeholder: it prints what the live one did,
    with the placeholder for the value."""
    out, err = io.BytesIO(), io.BytesIO()
    result = replay(recorded.journal, fast=fast, stdout=out, stderr=err)
    assert result.divergence is None, result.divergence.report()
    assert result.exit_code == 0
    assert out.getvalue() == recorded.stdout.replace(SECRET.encode(), MASK.encode())
    assert err.getvalue() == f"stderr: the secret is {MASK}\n".encode()


def test_the_redacted_journal_verifies(recorded: Recorded) -> None:
    """A host directory lists names in the host filesystem's order, which may
    depend on the names, and the verifier's copy of it has the placeholders in
    them: there, the listing's order may differ (README: what redaction
    cannot hide)."""
    result = replay(recorded.journal, verify=True, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert result.verified > 10
    divergence = result.divergence
    if not recorded.host_dir or divergence is None:
        assert divergence is None, divergence.report()
        return
    # the documented limit (the host filesystem's order may follow the names): only the
    # order of the listing may differ
    assert divergence.kind is DivergenceKind.RESULT_MISMATCH
    assert divergence.expected is not None and divergence.expected.startswith("fd_readdir(")
    assert divergence.actual is not None
    names = re.compile(r'\(b"([^"]*)"')
    expected, actual = names.findall(divergence.expected), names.findall(divergence.actual)
    assert expected != actual and sorted(expected) == sorted(actual)


@pytest.mark.parametrize(("options", "needle"), [
    (["--env", "SECRET=abc", "--redact-env", "SECRET"], "shorter than 4 bytes"),
    (["--env", f"SECRET={SECRET}", "--redact-env", "SECRET", "--snapshot-every", "5"],
     "cannot be combined with snapshots"),
])
def test_refusals_are_one_line(options: list[str], needle: str, guest: Callable[[str], Path],
                               tmp_path: Path) -> None:
    rec = cli("record", "-o", "r.wrr", "--tmpfs", "/w", *options, guest("redact_env"), "/w",
              cwd=tmp_path)
    err = rec.stderr.decode()
    assert rec.returncode == ExitStatus.TOOL_ERROR and rec.stdout == b""
    assert err.count("\n") == 1 and err.startswith("wasi-rr: error: --redact-env")
    assert needle in err
    assert not (tmp_path / "r.wrr").exists()
