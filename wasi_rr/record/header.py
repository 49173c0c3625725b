"""The journal header of a recording: what the run was, and where it ran."""

from __future__ import annotations

import functools
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wasi_rr.api import RunConfig
from wasi_rr.host.runtime.process import ModuleBytes, wasmtime_version
from wasi_rr.host.table import function_names
from wasi_rr.journal import JournalHeader, Preopen

from .recorder import placeholder, redact_value


@functools.cache
def _host_facts() -> tuple[tuple[str, str], ...]:
    """Informational header metadata about this machine (cached: ``platform.platform()``
    and the wasmtime version lookup cost milliseconds, paid once per process)."""
    facts = [("host", platform.node()), ("platform", platform.platform()),
             ("python", platform.python_version())]
    version = wasmtime_version()
    if version != "unknown":
        facts.append(("wasmtime", version))
    return tuple(facts)


def journal_header(config: RunConfig, *, module: ModuleBytes, redact_env: Iterable[str] = (),
                   meta: Mapping[str, Any] | None = None) -> JournalHeader:
    """The header describing ``config``, with the redacted variables' values
    replaced by their placeholders wherever they appear (env, argv, preopen
    paths, metadata such as the captured host directories)."""
    redacted = [n for n in redact_env if n in config.env]
    secrets = {n: config.env[n] for n in redacted if config.env[n]}
    env = [(k, placeholder(v) if k in redacted else v) for k, v in config.env.items()]
    argv0 = config.argv0 if config.argv0 is not None else str(config.module)
    argv = redact_value([argv0, *config.args], secrets)
    preopens = [Preopen(redact_value(d.guest, secrets), d.mode.value,
                        redact_value(str(d.host), secrets)) for d in config.dirs]
    preopens += [Preopen(redact_value(g, secrets), "tmpfs", None) for g in config.tmpfs]
    options: dict[str, Any] = {"trap_unknown_imports": config.trap_unknown_imports}
    if config.clock is not None:
        options["clock"] = type(config.clock).__name__
    if config.random is not None:
        options["random"] = type(config.random).__name__
    auto_meta: dict[str, Any] = dict(_host_facts())
    auto_meta.update(redact_value(dict(meta or {}), secrets))
    return JournalHeader(
        module_sha256=module.sha256,
        argv=argv,
        env=env,
        preopens=preopens,
        options=options,
        meta=auto_meta,
        module_name=Path(config.module).name,
        module_size=len(module.data),
        redacted_env=redacted,
        functions=function_names(),
    )
