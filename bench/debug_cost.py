"""Debugger cost on a real program (issue 12's targets) and ``resume --at`` (issue 13).

    python bench/debug_cost.py [--calls 3000]

Records QuickJS (from PyPI, tests/thirdparty) running a script that makes
>= 10,000 syscalls, then drives a ``wasi-rr debug`` session in-process and
times, after the first pass: ``goto`` to far positions (back and forth),
``reverse-next``, ``bt``; and ``resume --at`` at the middle of the run.
Targets: goto <= 0.5 s, reverse-next <= 0.3 s, bt <= 0.1 s; checkpoint memory
<= 4x linear memory (the debugger keeps no checkpoint: 0).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "thirdparty"))

import fetch_programs

from wasi_rr.replay.debug import open_session
from wasi_rr.replay.debug.reply import Reply
from wasi_rr.replay.debug.session import Session

SCRIPT = """let total = 0;
for (let i = 0; i < {n}; i++) {{
  const f = std.open('/data/f' + (i % 10) + '.txt', 'w');
  f.puts('line ' + i + '\\n');
  f.close();
  total += i;
  if (i % 100 == 0) print('step', i, total);
}}
print('done', total);
"""


class Timed:
    """A front end that runs a script of commands and times each reply."""

    def __init__(self, commands: list[str]) -> None:
        self.commands = iter(commands)
        self.times: list[tuple[str, float]] = []
        self.t0 = 0.0

    def read(self, session: Session) -> str | None:
        line = next(self.commands, None)
        self.t0 = time.perf_counter()
        self.current = line
        return line

    def emit(self, session: Session, command: str, reply: Reply) -> None:
        self.times.append((command, time.perf_counter() - self.t0))
        assert reply.ok, reply.text


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3000, help="loop iterations of the script")
    args = ap.parse_args()
    wasm = fetch_programs.fetch("quickjs")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "loop.js").write_text(SCRIPT.format(n=args.calls))
        journal = d / "qjs.wrr"
        subprocess.run([sys.executable, "-m", "wasi_rr", "record", "-o", str(journal),
                        "--tmpfs", "/data", "--dir", f"{d}::/src", str(wasm), "--std",
                        "/src/loop.js"], check=True, capture_output=True)
        commands = ["goto 100"]  # the first pass: start, then go to the end
        probe = Timed(["info"])
        s = open_session(journal, probe)
        n = len(s.index)
        s.close()
        script = ["continue", "goto 10", f"goto {n - 10}", "goto 5", f"goto {n // 2}",
                  "reverse-next", "reverse-next", "bt", "bt", f"goto {n - 1}", "reverse-next",
                  "goto 0", f"goto {n - 1}"]
        timed = Timed(commands + script)
        session = open_session(journal, timed)
        session.drive()
        mem = session.memory_adapter().memory.size if session.last_adapter else 0
        session.close()
        print(f"QuickJS, {n} syscalls, linear memory {mem / 2**20:.1f} MiB, checkpoints 0 bytes")
        print(f"{'command':<24} {'seconds':>8}  target")
        targets = {"goto": 0.5, "reverse-next": 0.3, "bt": 0.1}
        for command, seconds in timed.times[2:]:
            kind = command.split()[0]
            limit = targets.get(kind)
            ok = "" if limit is None else f"<= {limit} {'yes' if seconds <= limit else 'NO'}"
            print(f"{command:<24} {seconds:8.3f}  {ok}")
        for at in (n // 2, n - 100):
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "wasi_rr", "resume", "--at", str(at),
                                   str(journal)], capture_output=True, cwd=d)
            print(f"resume --at {at} (command, new process): {time.perf_counter() - t:.3f} s, "
                  f"exit {done.returncode}, {len(done.stdout)} bytes of output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
