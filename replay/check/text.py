"""The text ``check`` prints: one line per trace as it finishes, and a summary.

Kept apart from the progress bar and the files so the same words appear on a
terminal, in a CI log, in JUnit and in JSON: the status is ``TraceStatus.value``
and a failure's message is the worker's own.
"""

from __future__ import annotations

from .model import CheckReport, TraceResult, TraceStatus

__all__ = ["DETAIL_LINES", "failure_lines", "summary_lines", "trace_line"]

DETAIL_LINES = 6
"""Lines of a divergence report printed under its trace (the JSON/JUnit files
keep more; ``wasi-rr replay PATH`` shows it whole)."""


def trace_line(result: TraceResult) -> str:
    """``status  seconds  path``, then the message's first lines indented."""
    line = f"{result.status.value:<8} {result.seconds:8.3f}s  {result.path}"
    if result.attempts > 1:
        line += f"  (attempt {result.attempts})"
    if not result.message:
        return line
    details = result.message.splitlines()[:DETAIL_LINES]
    return "\n".join([line, *(f"    {d}" for d in details)])


def summary_lines(report: CheckReport) -> list[str]:
    """The totals, the wall time and the rate."""
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in TraceStatus)
    lines = [f"wasi-rr check: {report.total} traces: {counts}"]
    plural = "s" if report.workers != 1 else ""
    timing = (f"wall {report.wall_s:.3f} s, {report.traces_per_s:.1f} traces/s on "
              f"{report.workers} {report.executor} worker{plural} "
              f"(start-up {report.startup_s:.2f} s)")
    if report.retried:
        timing += f"; {report.retried} trace(s) retried after their worker died"
    lines.append(timing)
    return lines


def failure_lines(report: CheckReport) -> list[str]:
    """Every trace that did not pass, with its message's first line, in path order
    (a long log's end says what to look at, like pytest's short summary)."""
    failed = report.failures()
    if not failed:
        return []
    lines = [f"{len(failed)} trace(s) did not pass:"]
    for t in failed:
        first = t.message.splitlines()[0] if t.message else ""
        lines.append(f"  {t.status.value:<8} {t.path}: {first}")
    return lines
