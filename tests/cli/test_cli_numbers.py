"""Every numeric option of every command refuses 0, negatives and non-numbers as a
usage error: exit status 2 and one line on stderr (no usage block)."""

from __future__ import annotations

import pytest

from wasi_rr.cli import main
from wasi_rr.exitcodes import ExitStatus

NUMERIC_OPTIONS = [
    ("record", "--snapshot-every", ["-o", "x.wrr"], ["m.wasm"]),
    ("record", "--hash-inputs-over", ["-o", "x.wrr"], ["m.wasm"]),
    ("replay", "--timeout", [], ["x.wrr"]),
    ("replay", "--from-snapshot", [], ["x.wrr"]),
    ("resume", "--snapshot", [], ["x.wrr"]),
    ("resume", "--snapshot-every", [], ["x.wrr"]),
    ("check", "-j", [], ["traces"]),
    ("check", "--timeout", [], ["traces"]),
    ("check", "--batch", [], ["traces"]),
]
BAD_VALUES = ["0", "-1", "abc", "1.5x", ""]


@pytest.mark.parametrize(("command", "option", "before", "after"), NUMERIC_OPTIONS)
@pytest.mark.parametrize("value", BAD_VALUES)
def test_nonsense_numbers_are_one_line_usage_errors(
        command: str, option: str, before: list[str], after: list[str], value: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    status = main([command, *before, f"{option}={value}", *after])
    out, err = capfd.readouterr()
    assert status == ExitStatus.USAGE
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"wasi-rr {command}: error: argument ") and option in err


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5"])
def test_seconds_must_be_finite_and_positive(value: str,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", f"--timeout={value}", "x.wrr"]) == ExitStatus.USAGE
    _, err = capfd.readouterr()
    assert err.count("\n") == 1 and "--timeout" in err


def test_other_usage_errors_are_one_line_too(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["replay"]) == ExitStatus.USAGE
    _, err = capfd.readouterr()
    assert err == ("wasi-rr replay: error: the following arguments are required: JOURNAL "
                   "(see 'wasi-rr replay --help')\n")
