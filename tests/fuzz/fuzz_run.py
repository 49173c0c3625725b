"""Running crafted journals through replay and dump, and judging the outcome.

Allowed outcomes (issue 13 B.8): a divergence (97), a journal error (126) whose
message names the entry, a replay error about the module (125: a crafted header
may say the module is not embedded), the guest's own recorded-looking exit, a
trap only when the journal records that very trap, or success. Never an
exception that is not a ``WasiRrError``, never "internal error" / "this is a
wasi-rr bug" in a message or report, never a traceback, never a native crash.
"""

from __future__ import annotations

import io
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from wasi_rr.dump import dump
from wasi_rr.errors import WasiRrError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import ExitEvent, JournalError, JournalReader, TrapEvent
from wasi_rr.replay.engine import ReplayError, replay

SEEDS: dict[str, dict[str, object]] = {
    "args_env": {"args": ["alpha", "béta"], "env": {"HOME": "/home/g", "LANG": "C"}},
    "fs_files": {"args": ["/data"], "tmpfs": ["/data"]},
    "stdin_cat": {"stdin": bytes(range(256)) * 24},  # 6 KiB: a stdout write over 4 KiB
    "random": {},
    "bench_clock": {"args": ["60"]},
    "clocks": {},  # ~1000 calls: few cases, each replays and dumps them all
    "trap": {},
}
"""Guest name -> RunConfig keywords (stdin as bytes)."""

BAD_TEXT = re.compile(r"internal error|wasi-rr bug|Traceback \(most recent call last\)")
NAMES_ENTRY = re.compile(r"entry \d+")


"""Reported to the lead (replay/engine.py ``check_ending``, not ours to fix): a
journal whose process has no exit/trap event at all accepts whatever ending the
guest reaches, a trap included (exit 134). Counted, not failed, while it lasts;
``test_crafted.test_trap_without_a_recorded_ending_is_not_a_match`` is the xfail
that turns green when it is fixed."""


@dataclass
class Verdict:
    """What one crafted journal did under each consumer."""

    outcomes: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)


def recorded_endings(path: Path) -> tuple[set[str], int]:
    """Messages of the trap events a journal holds, and how many exit/trap events it
    holds (what a reader can get to)."""
    traps = set()
    endings = 0
    try:
        with JournalReader(path) as r:
            for e in r:
                if isinstance(e, TrapEvent):
                    traps.add(e.message)
                endings += isinstance(e, (TrapEvent, ExitEvent))
    except Exception:  # whatever is readable is enough
        pass
    return traps, endings


def recorded_traps(path: Path) -> set[str]:
    return recorded_endings(path)[0]


def _journal_error(kind: str, exc: JournalError, v: Verdict) -> str:
    msg = str(exc)
    if "\n" in msg or (not NAMES_ENTRY.search(msg) and "journal format" not in msg):
        v.failures.append(f"{kind}: journal error without an entry or on several lines: {msg}")
    if BAD_TEXT.search(msg):
        v.failures.append(f"{kind}: {msg}")
    return f"journal-error {type(exc).__name__}"


def run_replay(path: Path, fast: bool, v: Verdict) -> None:
    kind = "replay" if fast else "replay(fast=False)"
    out, err, warnings = io.BytesIO(), io.BytesIO(), []
    try:
        res = replay(path, stdout=out, stderr=err, warn=warnings.append, fast=fast)
    except JournalError as exc:
        v.outcomes[kind] = _journal_error(kind, exc, v)
        return
    except ReplayError as exc:
        if BAD_TEXT.search(str(exc)) or "module" not in str(exc):
            v.failures.append(f"{kind}: ReplayError {exc}")
        v.outcomes[kind] = "replay-error"
        return
    except WasiRrError as exc:
        v.failures.append(f"{kind}: {type(exc).__name__} (status {exc.status}): {exc}")
        v.outcomes[kind] = f"error {type(exc).__name__}"
        return
    except BaseException:  # exactly what the fuzzer looks for
        v.failures.append(f"{kind}: uncaught\n{traceback.format_exc()}")
        v.outcomes[kind] = "uncaught"
        return
    if res.divergence is not None:
        report = res.divergence.report()
        if BAD_TEXT.search(report):
            v.failures.append(f"{kind}: divergence report: {report}")
        v.outcomes[kind] = f"divergence {res.divergence.kind.name}"
        return
    if res.trap is not None or res.exit_code == ExitStatus.TRAP:
        traps, _endings = recorded_endings(path)
        if res.trap is None or res.trap not in traps:
            v.failures.append(f"{kind}: trap {res.trap!r} (status {res.exit_code}) that the "
                              "journal does not record")
        v.outcomes[kind] = "trap"
        return
    if res.exit_code < 0:
        v.failures.append(f"{kind}: negative exit status {res.exit_code}")
    v.outcomes[kind] = f"exit {res.exit_code}"


DUMPS = {"dump": {}, "dump --json": {"as_json": True}, "dump --stats": {"stats": True},
         "dump --header": {"header": True},
         "dump --header --json": {"header": True, "as_json": True}}


def run_dump(path: Path, kind: str, v: Verdict) -> None:
    try:
        dump(path, out=io.StringIO(), **DUMPS[kind])  # type: ignore[arg-type]
    except WasiRrError as exc:
        msg = str(exc)
        if exc.status != ExitStatus.JOURNAL_ERROR or BAD_TEXT.search(msg) or "\n" in msg \
                or not (NAMES_ENTRY.search(msg) or "journal format" in msg):
            v.failures.append(f"{kind}: {type(exc).__name__} (status {exc.status}): {msg}")
        v.outcomes[kind] = "journal-error"
        return
    except BaseException:
        v.failures.append(f"{kind}: uncaught\n{traceback.format_exc()}")
        v.outcomes[kind] = "uncaught"
        return
    v.outcomes[kind] = "ok"


def judge(path: Path, *, dumps: tuple[str, ...] = tuple(DUMPS)) -> Verdict:
    v = Verdict()
    run_replay(path, True, v)
    run_replay(path, False, v)
    fast, slow = v.outcomes["replay"], v.outcomes["replay(fast=False)"]
    if fast != slow:
        v.failures.append(f"the wasm replayer and the Python path disagree: {fast} vs {slow}")
    for kind in dumps:
        run_dump(path, kind, v)
    return v
