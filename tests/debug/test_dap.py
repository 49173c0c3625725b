"""A DAP client talks to ``wasi-rr dap`` over pipes."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wasi_rr.replay.debug.dapio import read_message, write_message


class Client:
    def __init__(self, journal: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "wasi_rr", "dap", str(journal)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        self.seq += 1
        assert self.proc.stdin is not None and self.proc.stdout is not None
        write_message(self.proc.stdin, {"seq": self.seq, "type": "request",
                                        "command": command, "arguments": arguments})
        while True:
            msg = read_message(self.proc.stdout)
            assert msg is not None, "the adapter closed the stream"
            if msg["type"] == "event":
                self.events.append(msg)
            elif msg["request_seq"] == self.seq:
                return msg

    def stopped(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            for k, ev in enumerate(self.events):
                if ev["event"] == "stopped":
                    return self.events.pop(k)["body"]
            msg = read_message(self.proc.stdout)
            assert msg is not None
            self.events.append(msg)


def test_dap_session(stale_journal: Callable[[bool], Path]) -> None:
    c = Client(stale_journal(True))
    try:
        init = c.request("initialize", adapterID="wasi-rr")
        assert init["body"]["supportsStepBack"]
        c.request("launch", program=str(stale_journal(True)))
        bps = c.request("setFunctionBreakpoints", breakpoints=[{"name": "fd_write fd=5"}])
        assert bps["body"]["breakpoints"][0]["verified"]
        c.request("configurationDone")
        assert c.stopped()["reason"] == "entry"
        c.request("continue", threadId=1)
        hit = c.stopped()
        assert hit["reason"] == "breakpoint" and hit["seq"] == 17
        trace = c.request("stackTrace", threadId=1)["body"]["stackFrames"]
        assert "fd_write" in trace[0]["name"]
        assert any(f["name"] == "main" and f.get("line") for f in trace)
        scopes = c.request("scopes", frameId=0)["body"]["scopes"]
        variables = c.request("variables", variablesReference=scopes[0]["variablesReference"])
        names = {v["name"]: v["value"] for v in variables["body"]["variables"]}
        assert names["fd"] == "5" and names["result"] == "SUCCESS"
        c.request("stepBack", threadId=1)
        assert c.stopped()["seq"] == 16
        memory = c.request("readMemory", memoryReference="0x0", count=8)
        assert len(base64.b64decode(memory["body"]["data"])) == 8
        ev = c.request("evaluate", expression="info")
        assert "fd_write" in ev["body"]["result"]
        c.request("reverseContinue", threadId=1)
        assert c.stopped()["seq"] == 0
        c.request("disconnect")
        assert c.proc.wait(timeout=60) == 0
    finally:
        c.proc.kill()
