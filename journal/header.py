"""Wire form of ``JournalHeader`` (a msgpack map with string keys).

A map rather than an array so that newer minor versions can add keys: an older
reader keeps unknown keys in ``JournalHeader.extra`` instead of failing.
"""

from __future__ import annotations

from typing import Any

from .entries import JournalHeader, Preopen

_KNOWN = {
    "format", "wasi_rr_version", "created_unix_ns", "module_sha256", "module_name",
    "module_size", "module_embedded", "argv", "env", "preopens", "options", "meta",
    "redacted_env", "input_hash_threshold",
}


def header_to_wire(h: JournalHeader) -> dict[str, Any]:
    return {
        "format": list(h.format_version),
        "wasi_rr_version": h.wasi_rr_version,
        "created_unix_ns": h.created_unix_ns,
        "module_sha256": h.module_sha256,
        "module_name": h.module_name,
        "module_size": h.module_size,
        "module_embedded": h.module_embedded,
        "argv": list(h.argv),
        "env": [[k, v] for k, v in h.env],
        "preopens": [{"guest": p.guest, "mode": p.mode, "host": p.host} for p in h.preopens],
        "options": dict(h.options),
        "meta": dict(h.meta),
        "redacted_env": list(h.redacted_env),
        "input_hash_threshold": h.input_hash_threshold,
        **h.extra,
    }


def header_from_wire(m: Any) -> JournalHeader:
    """Build the dataclass; raises ValueError/TypeError/KeyError on a malformed map."""
    if not isinstance(m, dict):
        raise TypeError("header is not a map")
    fmt = m["format"]
    return JournalHeader(
        module_sha256=str(m["module_sha256"]),
        argv=[str(a) for a in m.get("argv", [])],
        env=[(str(k), str(v)) for k, v in m.get("env", [])],
        preopens=[Preopen(str(p["guest"]), str(p["mode"]), p.get("host"))
                  for p in m.get("preopens", [])],
        options=dict(m.get("options", {})),
        meta=dict(m.get("meta", {})),
        module_name=str(m.get("module_name", "")),
        module_size=int(m.get("module_size", 0)),
        module_embedded=bool(m.get("module_embedded", False)),
        redacted_env=[str(x) for x in m.get("redacted_env", [])],
        input_hash_threshold=m.get("input_hash_threshold"),
        wasi_rr_version=str(m.get("wasi_rr_version", "")),
        created_unix_ns=int(m.get("created_unix_ns", 0)),
        format_version=(int(fmt[0]), int(fmt[1])),
        extra={k: v for k, v in m.items() if k not in _KNOWN},
    )
