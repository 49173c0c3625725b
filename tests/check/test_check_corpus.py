"""A corpus of 209 real journals checked on the local pool and on a Dask cluster:
every trace gets its expected status, and the summary, the exit status, the
JUnit file and the JSON file agree with each other exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from check_helpers import Corpus, wasi_rr
from junitparser import JUnitXml

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.replay.check import CheckReport, TraceStatus, check


def assert_expected(report: CheckReport, corpus: Corpus) -> None:
    got = {t.path: t.status for t in report.traces}
    assert got == corpus.expected  # every journal once, none extra, each as expected
    assert report.total == len(corpus.expected) >= 200
    for status in TraceStatus:
        assert report.count(status) == corpus.count(status)
    assert report.exit_status == ExitStatus.DIVERGENCE
    by_name = {Path(t.path).name: t for t in report.traces}
    assert by_name["diverged.wrr"].message.startswith("wasi-rr: replay divergence at syscall")
    assert "EXITING" in by_name["diverged.wrr"].message  # the differing bytes are shown
    assert "truncated" in by_name["truncated.wrr"].message
    assert "corrupt" in by_name["bitflip.wrr"].message
    assert "does not embed its module" in by_name["no-module.wrr"].message
    passed = [t for t in report.traces if t.status is TraceStatus.PASSED]
    assert all(t.message == "" and t.seconds > 0 and t.attempts == 1 for t in passed)


def test_local_pool(corpus: Corpus) -> None:
    seen: list[str] = []
    report = check([corpus.root], jobs=2, on_result=lambda t: seen.append(t.path))
    assert_expected(report, corpus)
    assert sorted(seen) == sorted(corpus.expected)  # each result announced exactly once
    assert report.executor == "local" and report.workers == 2
    assert len({t.worker for t in report.traces if t.worker}) == 2  # both workers replayed


def test_dask_cluster_ships_bytes(corpus: Corpus, fresh_dask_client: Any) -> None:
    # bytes, as for workers on other machines; batched tasks (the Dask default)
    report = check([corpus.root], executor=fresh_dask_client, ship="bytes")
    assert_expected(report, corpus)
    assert report.executor == "dask" and report.workers == 2
    addresses = set(fresh_dask_client.scheduler_info()["workers"])
    assert {t.worker for t in report.traces if t.worker} == addresses


def _summary_counts(stdout: str) -> dict[str, int]:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("wasi-rr check: "))
    total = int(re.search(r"(\d+) traces:", line).group(1))  # type: ignore[union-attr]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)(?:,|$)", line)}
    return {"total": total, **counts}


def assert_outputs_agree(proc: Any, junit: Path, json_path: Path, corpus: Corpus) -> None:
    assert proc.returncode == ExitStatus.DIVERGENCE, proc.stderr
    assert "Traceback" not in proc.stderr
    expected_counts = {s.value: corpus.count(s) for s in TraceStatus}
    summary = _summary_counts(proc.stdout)
    assert summary == {"total": len(corpus.expected), **expected_counts}
    doc = json.loads(json_path.read_text())
    assert {k: doc[k] for k in summary} == summary
    assert doc["exit_status"] == proc.returncode
    assert {t["path"]: t["status"] for t in doc["traces"]} == \
        {p: s.value for p, s in corpus.expected.items()}
    assert all(set(t) >= {"path", "status", "seconds", "message"} for t in doc["traces"])
    xml = JUnitXml.fromfile(str(junit))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (
        summary["total"], summary["diverged"],
        summary["damaged"] + summary["error"] + summary["timeout"], 0)
    cases = {case.name: case for suite in xml for case in suite}
    assert set(cases) == set(corpus.expected)
    # one line per trace on stdout, status first
    for path, status in corpus.expected.items():
        assert re.search(rf"^{status.value} +[0-9.]+s  {re.escape(path)}$", proc.stdout,
                         re.MULTILINE), path


def test_cli_local_pool_outputs_agree(corpus: Corpus, tmp_path: Path) -> None:
    junit, json_path = tmp_path / "junit.xml", tmp_path / "report.json"
    proc = wasi_rr("check", "-j", "2", corpus.root, "--junit", junit, "--json", json_path,
                   cwd=tmp_path)
    assert_outputs_agree(proc, junit, json_path, corpus)
    assert json.loads(json_path.read_text())["executor"] == "local"


def test_cli_dask_scheduler_outputs_agree(corpus: Corpus, fresh_dask_client: Any,
                                          tmp_path: Path) -> None:
    junit, json_path = tmp_path / "junit.xml", tmp_path / "report.json"
    address = fresh_dask_client.scheduler.address
    proc = wasi_rr("check", "--scheduler", address, corpus.root, "--junit", junit,
                   "--json", json_path, cwd=tmp_path)
    assert_outputs_agree(proc, junit, json_path, corpus)
    assert json.loads(json_path.read_text())["executor"] == "dask"


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_all_passed_exits_zero(corpus: Corpus, executor: str, tmp_path: Path,
                               fresh_dask_client: Any) -> None:
    good = corpus.root / "good" / "exit_code"
    extra = ["--scheduler", fresh_dask_client.scheduler.address] if executor == "dask" \
        else ["-j", "2"]
    proc = wasi_rr("check", "-q", *extra, good, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "50 traces: 50 passed, 0 diverged, 0 damaged, 0 error, 0 timeout" in proc.stdout
    assert "passed  " not in proc.stdout  # -q: passed traces are not listed
