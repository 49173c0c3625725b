"""The signature table and the strace-like formatter (no wasmtime needed)."""

from __future__ import annotations

import struct
import subprocess
import sys

from wasi_rr.host.table import PREVIEW1, SIGNATURES, WASIX, Role
from wasi_rr.host.table import format as table_format


def SyscallRecord(seq: int, module: str, name: str, params: tuple[int, ...],
                  inputs: list[bytes], errno: int,
                  writes: list[tuple[int, bytes]]) -> tuple[object, ...]:
    """The call's fields in the order ``format_call`` takes them."""
    return (module, name, params, inputs, errno, writes)


def format_call(rec: tuple[object, ...]) -> str:
    return table_format.format_call(*rec)  # type: ignore[arg-type]

PREVIEW1_NAMES = {
    "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get",
    "clock_time_get", "fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get",
    "fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_filestat_get", "fd_filestat_set_size",
    "fd_filestat_set_times", "fd_pread", "fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite",
    "fd_read", "fd_readdir", "fd_renumber", "fd_seek", "fd_sync", "fd_tell", "fd_write",
    "path_create_directory", "path_filestat_get", "path_filestat_set_times", "path_link",
    "path_open", "path_readlink", "path_remove_directory", "path_rename", "path_symlink",
    "path_unlink_file", "poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get",
    "sock_accept", "sock_recv", "sock_send", "sock_shutdown",
}


def test_table_covers_preview1_and_wasix() -> None:
    assert {n for m, n in SIGNATURES if m == PREVIEW1} == PREVIEW1_NAMES
    assert {n for m, n in SIGNATURES if m == WASIX} == {
        "fd_dup", "fd_dup2", "fd_pipe", "proc_fork", "proc_join", "proc_id", "proc_parent"}
    irregular = {n for (m, n), s in SIGNATURES.items() if s.irregular is not None}
    assert irregular == {"proc_exit", "proc_fork", "proc_join", "proc_id", "proc_parent"}


def test_pointer_params_name_existing_lengths() -> None:
    for sig in SIGNATURES.values():
        names = set(sig.param_names)
        for p in sig.params:
            if p.length is not None:
                assert p.length in names, (sig.name, p.name)
            if p.role in (Role.OUT, Role.INOUT):
                assert p.out is not None, (sig.name, p.name)
        assert sig.raw_struct.size == 16 * max(1, len(sig.params))


def test_known_wasm_signatures() -> None:
    # spot checks against the witx (i64 where the ABI has u64/filesize/timestamp)
    def shape(name: str) -> str:
        return " ".join(p.wasm.value for p in SIGNATURES[(PREVIEW1, name)].params)
    assert shape("path_open") == "i32 i32 i32 i32 i32 i64 i64 i32 i32"
    assert shape("fd_seek") == "i32 i64 i32 i32"
    assert shape("clock_time_get") == "i32 i64 i32"
    assert shape("fd_filestat_set_times") == "i32 i64 i64 i32"
    assert shape("path_filestat_set_times") == "i32 i32 i32 i32 i64 i64 i32"
    assert shape("fd_readdir") == "i32 i32 i32 i64 i32"
    assert SIGNATURES[(PREVIEW1, "proc_exit")].result is None


def test_format_fd_write() -> None:
    rec = SyscallRecord(0, PREVIEW1, "fd_write", (1, 100, 1, 200),
                        [struct.pack("<II", 300, 3), b"hi\n"], 0,
                        [(200, struct.pack("<I", 3))])
    assert format_call(rec) == 'fd_write(fd=1, iovs=[b"hi\\n"]) = SUCCESS {nwritten=3}'


def test_format_flags_enums_errno_and_signed() -> None:
    rec = SyscallRecord(1, PREVIEW1, "path_open", (3, 1, 10, 5, 9, 6, 0, 1, 300), [b"a.txt"],
                        44, [])
    assert format_call(rec) == (
        'path_open(fd=3, dirflags=SYMLINK_FOLLOW, path=b"a.txt", oflags=CREAT|TRUNC, '
        "fs_rights_base=FD_READ|FD_SEEK, fs_rights_inheriting=0, fdflags=APPEND) = NOENT")
    rec = SyscallRecord(2, PREVIEW1, "fd_seek", (3, 2**64 - 5, 2, 64), [], 0,
                        [(64, struct.pack("<Q", 95))])
    assert format_call(rec) == "fd_seek(fd=3, offset=-5, whence=END) = SUCCESS {newoffset=95}"


def test_format_read_data_and_unknown() -> None:
    rec = SyscallRecord(3, PREVIEW1, "fd_read", (0, 100, 1, 300), [struct.pack("<II", 500, 10)],
                        0, [(500, b"abc"), (300, struct.pack("<I", 3))])
    assert (
        format_call(rec)
        == 'fd_read(fd=0, iovs=[1 bufs, 10 bytes]) = SUCCESS {nread=3, data=b"abc"}'
    )
    assert format_call(SyscallRecord(4, "env", "f", (1,), [], 52, [])) == "env::f(1,) = NOSYS"


def test_table_imports_without_wasmtime() -> None:
    code = (
        "import sys; import wasi_rr.host.table, wasi_rr.host.table.format, wasi_rr; "
        "assert 'wasmtime' not in sys.modules, 'wasmtime imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_format_poll_oneoff() -> None:
    subs = struct.pack("<QB7xIxxxxQQH6x", 7, 0, 1, 5000, 0, 0) + struct.pack(
        "<QB7xIxxxxQQH6x", 8, 1, 0, 0, 0, 0
    )
    events = struct.pack("<QHB5xQH6x", 8, 0, 1, 3, 0)
    rec = SyscallRecord(
        5,
        PREVIEW1,
        "poll_oneoff",
        (0x100, 0x200, 2, 0x300),
        [subs],
        0,
        [(0x200, events), (0x300, struct.pack("<I", 1))],
    )
    assert format_call(rec) == (
        "poll_oneoff(in=[clock(userdata=7, id=MONOTONIC, timeout=5000, precision=0, flags=0), "
        "fd_read(userdata=8, fd=0)], nsubscriptions=2) = SUCCESS "
        "{events=[fd_read(userdata=8, error=SUCCESS, nbytes=3, flags=0)], nevents=1}"
    )


def test_format_args_readdir_and_buffers() -> None:
    rec = SyscallRecord(
        0,
        PREVIEW1,
        "args_get",
        (0x100, 0x200),
        [],
        0,
        [(0x100, struct.pack("<II", 0x200, 0x205)), (0x200, b"prog\0a b\0")],
    )
    assert (
        format_call(rec)
        == 'args_get(argv=0x100, argv_buf=0x200) = SUCCESS {argv_buf=[b"prog", b"a b"]}'
    )
    dirents = (
        struct.pack("<QQIB3x", 1, 10, 1, 3) + b"." + struct.pack("<QQIB3x", 2, 12, 8, 4) + b"file"
    )
    rec = SyscallRecord(
        1,
        PREVIEW1,
        "fd_readdir",
        (3, 0x400, len(dirents), 0, 0x300),
        [],
        0,
        [(0x400, dirents), (0x300, struct.pack("<I", len(dirents)))],
    )
    assert format_call(rec) == (
        "fd_readdir(fd=3, buf=0x400, buf_len=53, cookie=0) = SUCCESS "
        '{buf=[(b".", ino=10, DIRECTORY, next=1), (b"file"..., ino=12, REGULAR_FILE, next=2)], '
        "bufused=53}"
    )
    rec = SyscallRecord(2, PREVIEW1, "random_get", (0x10, 4), [], 0, [(0x10, b"\x01\x02\x03\x04")])
    assert (
        format_call(rec)
        == 'random_get(buf=0x10, buf_len=4) = SUCCESS {buf=b"\\x01\\x02\\x03\\x04"}'
    )


def test_every_provided_import_has_exactly_one_row() -> None:
    from wasi_rr.host.table import SIGNATURE_LIST, function_names

    keys = [s.key for s in SIGNATURE_LIST]
    assert len(keys) == len(set(keys)) == len(SIGNATURES) == len(function_names())
    for sig in SIGNATURE_LIST:  # every regular row has its kernel method
        if sig.irregular is None:
            from wasi_rr.host.kernel.kernel import WasiKernel

            assert callable(getattr(WasiKernel, sig.name, None)), sig.name


HAND_WRITTEN = {
    "host/boundary/irregular.py",  # the irregular calls, each named as such
    "journal/_make_sample.py",  # sample data, not logic
}


def test_nothing_outside_the_table_keys_on_a_syscall_name() -> None:
    """Per-syscall behaviour comes from table facts (roles, ``stdio``, ``io``,
    ``exits``, ``forks``...), never from comparing names: adding a syscall is one
    row and one kernel method."""
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    names = {n for _, n in SIGNATURES}
    found = []
    for root in ("host", "journal", "replay", "wasi_rr"):
        for path in (repo / root).rglob("*.py"):
            rel = path.relative_to(repo).as_posix()
            if rel.startswith("host/table/") or rel in HAND_WRITTEN:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in names:
                    found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert found == []
