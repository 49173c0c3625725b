"""Wire form of ``JournalHeader`` (a msgpack map with string keys).

A map rather than an array so that newer minor versions can add keys: an older
reader keeps unknown keys in ``JournalHeader.extra`` instead of failing. Every
known key is type-checked on the way in (a journal is untrusted input):
``header_from_wire`` raises ``ValueError`` naming the key.
"""

from __future__ import annotations

from typing import Any

from .entries import JournalHeader, Preopen

_KNOWN = {
    "format", "wasi_rr_version", "created_unix_ns", "module_sha256", "module_name",
    "module_size", "module_embedded", "argv", "env", "preopens", "options", "meta",
    "redacted_env", "input_hash_threshold", "functions",
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
        "functions": list(h.functions),
        **h.extra,
    }


def _want(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ValueError(f"header field {key!r} is a {type(value).__name__}, wanted {name}")
    return value


def _strings(value: Any, key: str) -> list[str]:
    _want(value, list, key)
    return [_want(v, str, key) for v in value]


def format_of(m: Any) -> tuple[int, int]:
    """The ``format`` key alone (checked first: an old journal's other keys differ)."""
    _want(m, dict, "header")
    fmt = m.get("format")
    if (not isinstance(fmt, list) or len(fmt) != 2
            or not all(type(x) is int and 0 <= x < 1 << 16 for x in fmt)):
        raise ValueError(f"header field 'format' is {fmt!r:.40}")
    return (fmt[0], fmt[1])


def header_from_wire(m: Any) -> JournalHeader:
    """Build the dataclass; raises ValueError on a malformed map."""
    fmt = format_of(m)
    env = _want(m.get("env", []), list, "env")
    pairs: list[tuple[str, str]] = []
    for item in env:
        if not isinstance(item, list) or len(item) != 2:
            raise ValueError("header field 'env' holds a non-pair")
        pairs.append((_want(item[0], str, "env"), _want(item[1], str, "env")))
    preopens = []
    for p in _want(m.get("preopens", []), list, "preopens"):
        _want(p, dict, "preopens")
        host = p.get("host")
        preopens.append(Preopen(_want(p.get("guest"), str, "preopens.guest"),
                                _want(p.get("mode"), str, "preopens.mode"),
                                None if host is None else _want(host, str, "preopens.host")))
    threshold = m.get("input_hash_threshold")
    if threshold is not None:
        _want(threshold, int, "input_hash_threshold")
    return JournalHeader(
        module_sha256=_want(m.get("module_sha256"), str, "module_sha256"),
        argv=_strings(m.get("argv", []), "argv"),
        env=pairs,
        preopens=preopens,
        options=dict(_want(m.get("options", {}), dict, "options")),
        meta=dict(_want(m.get("meta", {}), dict, "meta")),
        module_name=_want(m.get("module_name", ""), str, "module_name"),
        module_size=_want(m.get("module_size", 0), int, "module_size"),
        module_embedded=_want(m.get("module_embedded", False), bool, "module_embedded"),
        redacted_env=_strings(m.get("redacted_env", []), "redacted_env"),
        input_hash_threshold=threshold,
        functions=_strings(m.get("functions", []), "functions"),
        wasi_rr_version=_want(m.get("wasi_rr_version", ""), str, "wasi_rr_version"),
        created_unix_ns=_want(m.get("created_unix_ns", 0), int, "created_unix_ns"),
        format_version=fmt,
        extra={k: v for k, v in m.items() if k not in _KNOWN},
    )
