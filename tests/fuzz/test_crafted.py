"""Crafted journals (issue 13 B.8): valid framing and checksums, hostile content.

Real journals of corpus guests (``conftest.SEEDS``) are split into records and
mutated field by field (``crafting.Crafter``: wrong types and ranges in event
maps, inconsistent record headers, descriptors past 4 GiB or outside guest
memory, digests, params for the signature, i32 params >= 2**32, header keys of
the wrong type, END frame figures...), re-framed by the real writer, and run
through ``replay`` (the wasm replayer and ``fast=False``) and every ``dump``
mode in process; a smaller sample goes through the ``wasi-rr`` CLI in
subprocesses. ``fuzz_run`` says what outcomes are allowed.

Seeded and reproducible: case ``i`` of a seed journal is the same mutation on
every run (the seed journals are recorded again each session, but mutations
depend on their structure, not on their clock or random values). A failing
case's journal is kept under pytest's basetemp and named in the message.
``WASI_RR_FUZZ_CASES=N`` changes the number of cases per seed journal.
"""

from __future__ import annotations

import faulthandler
import io
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from crafting import Case, Crafter, Seed
from fuzz_run import BAD_TEXT, NAMES_ENTRY, SEEDS, judge, recorded_endings

from wasi_rr.replay.engine import replay

CASES = {"args_env": 400, "fs_files": 300, "stdin_cat": 400, "random": 400,
         "bench_clock": 300, "clocks": 60, "trap": 400}
"""Cases per seed journal in the default run (2260: about a minute of CPU; a
case costs 15-60 ms, clocks' ~230 ms: it has ~1000 calls to replay and dump)."""
if os.environ.get("WASI_RR_FUZZ_CASES"):
    CASES = dict.fromkeys(CASES, int(os.environ["WASI_RR_FUZZ_CASES"]))
SLOW_CASES = 2000
CHUNK = 100
"""Cases per test item (xdist spreads the items over the workers)."""
CASE_TIMEOUT = 60.0
"""A single crafted journal that hangs replay is a bug too: the worker dies with
every thread's stack (faulthandler) instead of hanging CI."""


def _crafter(seed_journals: dict[str, Path], name: str, salt: str = "") -> Crafter:
    seed = Seed.load(seed_journals[name], name)
    return Crafter(seed, random.Random(f"wasi-rr fuzz {name}{salt}"))


def _run_cases(crafter: Crafter, indices: range, tmp_path: Path) -> Counter[str]:
    """Craft and judge every case in ``indices``; fail with every bad case listed."""
    outcomes: Counter[str] = Counter()
    failures = []
    path = tmp_path / "crafted.wrr"
    cases: list[Case] = [crafter.case(i) for i in range(indices.stop)][indices.start:]
    # (cases before ``indices`` are made too: case i is the RNG's i-th draw)
    for case in cases:
        crafter.write(case, path)
        faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
        try:
            verdict = judge(path)
        finally:
            faulthandler.cancel_dump_traceback_later()
        outcomes.update(f"{k}: {v}" for k, v in verdict.outcomes.items())
        outcomes.update(verdict.known)
        if verdict.failures:
            keep = tmp_path / f"failed-{case.seed}-{case.index}.wrr"
            keep.write_bytes(path.read_bytes())
            failures.append(f"{case.describe()} (journal kept as {keep})\n  "
                            + "\n  ".join(verdict.failures))
    assert not failures, f"{len(failures)} of {len(cases)} crafted journals misbehaved:\n" \
        + "\n".join(failures[:20])
    ran = sum(n for k, n in outcomes.items() if not k.startswith("known:"))
    assert ran == len(cases) * 7  # every consumer ran on every case
    return outcomes


def _check_variety(outcomes: Counter[str]) -> None:
    """The mutations really reach past the reader: some replays diverge or run to
    the end, some journals are refused by the reader."""
    kinds = {k.split(": ", 1)[1].split()[0] for k in outcomes if k.startswith("replay: ")}
    assert "journal-error" in kinds and ({"divergence", "exit", "trap"} & kinds), outcomes


@pytest.mark.parametrize("name,first", [(name, first) for name in SEEDS
                                        for first in range(0, CASES[name], CHUNK)])
def test_crafted_journals_in_process(seed_journals: dict[str, Path], tmp_path: Path,
                                     name: str, first: int) -> None:
    stop = min(first + CHUNK, CASES[name])
    _check_variety(_run_cases(_crafter(seed_journals, name), range(first, stop), tmp_path))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("WASI_RR_FUZZ_SLOW"),
                    reason="~10 min on 2 cores: set WASI_RR_FUZZ_SLOW=1 to run it")
@pytest.mark.parametrize("name", list(SEEDS))
def test_crafted_journals_in_process_many(seed_journals: dict[str, Path], tmp_path: Path,
                                          name: str) -> None:
    """The bigger variant: other mutations (another RNG stream), many more cases."""
    _check_variety(_run_cases(_crafter(seed_journals, name, "/slow"), range(SLOW_CASES),
                              tmp_path))


CLI = [["replay"], ["replay", "--slow"], ["dump"], ["dump", "--json"], ["dump", "--stats"]]
CLI_CASES = 2
"""Crafted journals per seed run through the CLI (5 subprocesses each)."""


def _expected_status(outcome: str) -> int | None:
    """The CLI's exit status for an in-process replay outcome (None: any)."""
    word, _, rest = outcome.partition(" ")
    if word == "journal-error":
        return 126
    if word == "divergence":
        return 97
    if word == "replay-error":
        return 125
    if word == "trap":
        return 134
    if word == "exit":
        return int(rest) & 0xFF
    return None


@pytest.mark.parametrize("name", list(SEEDS))
def test_crafted_journals_through_the_cli(seed_journals: dict[str, Path], tmp_path: Path,
                                          name: str) -> None:
    crafter = _crafter(seed_journals, name, "/cli")
    problems = []
    for index in range(CLI_CASES):
        case = crafter.case(index)
        path = tmp_path / f"cli-{index}.wrr"
        crafter.write(case, path)
        verdict = judge(path, dumps=("dump",))
        traps, endings = recorded_endings(path)
        for argv in CLI:
            proc = subprocess.run([sys.executable, "-m", "wasi_rr", *argv, str(path)],
                                  capture_output=True, timeout=120, check=False,
                                  env={**os.environ, "WASI_RR_DEBUG": ""})
            err = proc.stderr.decode(errors="replace")
            what = f"{case.describe()}: wasi-rr {' '.join(argv)} -> {proc.returncode}: {err[-800:]}"
            if proc.returncode < 0 or BAD_TEXT.search(err):
                problems.append(what)
            elif proc.returncode == 134 and not traps and endings:
                problems.append(f"{what} (a trap the journal does not record)")
            elif proc.returncode == 126 and (err.count("\n") != 1 or not (
                    NAMES_ENTRY.search(err) or "journal format" in err)):
                problems.append(f"{what} (a journal error must be one line naming the entry)")
            elif argv[0] == "replay":
                key = "replay" if len(argv) == 1 else "replay(fast=False)"
                want = _expected_status(verdict.outcomes[key])
                if want is not None and proc.returncode != want:
                    problems.append(f"{what} (in process: {verdict.outcomes[key]})")
            elif proc.returncode not in (0, 126):
                problems.append(what)
    assert not problems, "\n".join(problems)


def test_trap_without_a_recorded_ending_is_not_a_match(seed_journals: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """The trap guest's journal without its trap event: the replayed guest traps
    where the journal records no trap, which must not replay as a matching trap
    (exit 134); a divergence (the journal records no ending) or a journal error."""
    crafter = _crafter(seed_journals, "trap")
    records = [r for r in crafter.seed.records
               if not (r[4:6] == b"\xff\xff" and b"trap" in r[16:24])]
    assert len(records) == len(crafter.seed.records) - 1
    path = tmp_path / "no-ending.wrr"
    crafter.write(Case("trap", 0, ["trap event dropped"], records), path)
    res = replay(path, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert (res.exit_code != 134 and res.trap is None) or res.divergence is not None
