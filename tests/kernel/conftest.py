"""Fixtures for kernel tests: a deterministic kernel over a tmpfs or a host dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kernel_helpers import make_kernel

from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasifs import MountMode, MountSpec


@pytest.fixture
def k() -> Iterator[WasiKernel]:
    kern = make_kernel()
    yield kern
    kern.fs.close()


@pytest.fixture
def host_kernel(tmp_path: Path) -> Callable[..., WasiKernel]:
    made: list[WasiKernel] = []

    def factory(mode: MountMode = MountMode.WRITE_THROUGH, root: Path | None = None) -> WasiKernel:
        kern = make_kernel(MountSpec("/data", root or tmp_path, mode))
        made.append(kern)
        return kern

    yield factory  # type: ignore[misc]
    for kern in made:
        kern.fs.close()
        kern.fs.close_mounts()
