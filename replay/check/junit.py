"""``--junit FILE``: the report as JUnit XML, the format CI systems read.

One ``testcase`` per trace (name: the journal's path), so a CI's test view
lists traces like tests. A divergence is a ``failure`` (the program changed:
the test failed); a damaged journal, an error and a timeout are ``error``s (the
test could not be judged), which is how JUnit tells the two apart. The counts
are therefore ``tests`` = total, ``failures`` = diverged, ``errors`` = damaged +
error + timeout; ``skipped`` is always 0.

Written with ``junitparser`` (docs/scale.md says why): it escapes attributes
and text properly; control characters that XML 1.0 cannot carry at all (a
divergence report may quote raw guest bytes) are replaced here first.
"""

from __future__ import annotations

import os
import re

from .model import CheckReport, TraceResult, TraceStatus

__all__ = ["SUITE_NAME", "write_junit"]

SUITE_NAME = "wasi-rr check"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _case(result: TraceResult) -> object:
    from junitparser import Error, Failure, TestCase

    case = TestCase(name=result.path, classname="wasi-rr.check", time=round(result.seconds, 6))
    if result.status is TraceStatus.PASSED:
        return case
    message = _xml_text(result.message)
    first = message.splitlines()[0] if message else result.status.value
    kind = Failure if result.status is TraceStatus.DIVERGED else Error
    outcome = kind(first, result.status.value)
    outcome.text = message
    case.result = [outcome]
    return case


def write_junit(report: CheckReport, path: str | os.PathLike[str]) -> None:
    """Write ``report`` to ``path`` as one ``testsuites`` with one ``testsuite``."""
    from junitparser import JUnitXml, TestSuite

    suite = TestSuite(SUITE_NAME)
    for result in report.traces:
        suite.add_testcase(_case(result))  # type: ignore[arg-type]
    suite.update_statistics()  # type: ignore[no-untyped-call,unused-ignore]
    suite.time = round(report.wall_s, 6)
    document = JUnitXml(SUITE_NAME)
    document.add_testsuite(suite)
    document.update_statistics()  # type: ignore[no-untyped-call,unused-ignore]
    document.time = round(report.wall_s, 6)
    target = os.fspath(path)
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.tmp")
    document.write(tmp, pretty=True)
    os.replace(tmp, target)
