"""Sparse and delta images of a guest's linear memory.

A zig/clang guest reserves a large stack and heap that stay mostly zero, and
two snapshots of one run differ in a few pages.  So memory is handled at 4 KiB
page granularity: a ``PageMap`` keeps only the non-zero pages, and an encoded
image stores only the pages that are non-zero (full image) or that differ from
a base ``PageMap`` (delta image), zstd-compressed.

Why not hash pages (as Wasmer does for 512-byte regions): we keep the base as a
``PageMap`` in memory, so an exact byte comparison is both cheaper than a hash
and free of collisions; the base's identity is still checked on decode through
a digest of its non-zero pages, so a delta applied to the wrong base fails
loudly instead of producing a corrupt memory.

Scanning copies 64 KiB chunks and compares them with a zero (or base) chunk:
bytes comparisons run at ``memcmp`` speed, whereas comparing ``memoryview``
slices goes element by element and is ~20x slower.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import zstandard

__all__ = [
    "PAGE_SIZE",
    "MemoryImageError",
    "PageMap",
    "decode",
    "decode_pages",
    "encode",
    "scan",
    "write_into",
]

PAGE_SIZE = 4096
_CHUNK = 65536  # coarse scan unit (16 pages = one wasm page)
_PAGES_PER_CHUNK = _CHUNK // PAGE_SIZE
_ZERO_CHUNK = bytes(_CHUNK)
_ZERO_PAGE = bytes(PAGE_SIZE)

_MAGIC = b"WRMI"
_VERSION = 1
_FLAG_DELTA = 1
# magic, version, flags, size, base size, base digest, n pages
_HEADER = struct.Struct("<4sBB2xQQ16sI")

Buffer = bytes | bytearray | memoryview


class MemoryImageError(Exception):
    """An image is corrupt, or a delta is decoded against the wrong base."""


@dataclass(frozen=True, eq=False)
class PageMap:
    """A memory of ``size`` bytes given by its non-zero pages.

    ``pages[i]`` holds bytes ``[i*PAGE_SIZE, (i+1)*PAGE_SIZE)`` (shorter for a
    final partial page) and is never all-zero; absent pages are zero.
    """

    size: int
    pages: Mapping[int, bytes]
    _digest: list[bytes] = field(default_factory=list, repr=False, compare=False)

    def digest(self) -> bytes:
        """16-byte identity of the contents (zero pages do not contribute)."""
        if not self._digest:
            h = hashlib.blake2b(digest_size=16)
            h.update(struct.pack("<Q", self.size))
            for index in sorted(self.pages):
                h.update(struct.pack("<I", index))
                h.update(self.pages[index])
            self._digest.append(h.digest())
        return self._digest[0]

    def to_bytes(self) -> bytes:
        """The full memory (allocates ``size`` bytes)."""
        out = bytearray(self.size)
        for index, page in self.pages.items():
            out[index * PAGE_SIZE : index * PAGE_SIZE + len(page)] = page
        return bytes(out)

    def page(self, index: int) -> bytes:
        """Page ``index`` with zero pages materialised (right length at the end)."""
        got = self.pages.get(index)
        if got is not None:
            return got
        return _ZERO_PAGE[: max(0, min(PAGE_SIZE, self.size - index * PAGE_SIZE))]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PageMap):
            return NotImplemented
        return self.size == other.size and dict(self.pages) == dict(other.pages)

    __hash__ = None  # type: ignore[assignment]


def scan(memory: Buffer) -> PageMap:
    """Capture ``memory`` as a ``PageMap`` (copies only the non-zero pages)."""
    mv = memoryview(memory).cast("B")
    size = len(mv)
    pages: dict[int, bytes] = {}
    for start in range(0, size, _CHUNK):
        chunk = bytes(mv[start : start + _CHUNK])
        if chunk == _ZERO_CHUNK[: len(chunk)]:
            continue
        first = start // PAGE_SIZE
        for off in range(0, len(chunk), PAGE_SIZE):
            page = chunk[off : off + PAGE_SIZE]
            if page != _ZERO_PAGE[: len(page)]:
                pages[first + off // PAGE_SIZE] = page
    return PageMap(size, pages)


def _as_pagemap(memory: Buffer | PageMap) -> PageMap:
    return memory if isinstance(memory, PageMap) else scan(memory)


def _changed_pages(new: PageMap, base: PageMap | None) -> list[int]:
    """Indices whose content differs between ``new`` and ``base`` (all non-zero ones if no base)."""
    if base is None:
        return sorted(new.pages)
    last = (new.size + PAGE_SIZE - 1) // PAGE_SIZE
    candidates = set(new.pages) | {i for i in base.pages if i < last}
    changed = []
    for index in sorted(candidates):
        # Compare what decode would rebuild from the base (its page cut to the
        # new size, zero-padded) with the new content.
        mine = new.page(index)
        theirs = base.pages.get(index, b"")[: len(mine)]
        if len(theirs) < len(mine):
            theirs += bytes(len(mine) - len(theirs))
        if theirs != mine:
            changed.append(index)
    return changed


def encode(
    memory: Buffer | PageMap, base: Buffer | PageMap | None = None, *, level: int = 3
) -> bytes:
    """Encode ``memory`` compactly: non-zero pages, or only pages changed vs ``base``.

    ``base`` may have another size than ``memory`` (memory grows); decoding a
    delta needs the same base (checked by digest).
    """
    new = _as_pagemap(memory)
    base_map = None if base is None else _as_pagemap(base)
    indices = _changed_pages(new, base_map)
    body = bytearray(struct.pack(f"<{len(indices)}I", *indices))
    for index in indices:
        body += new.page(index)
    header = _HEADER.pack(
        _MAGIC,
        _VERSION,
        _FLAG_DELTA if base_map is not None else 0,
        new.size,
        base_map.size if base_map is not None else 0,
        base_map.digest() if base_map is not None else bytes(16),
        len(indices),
    )
    return header + zstandard.ZstdCompressor(level=level).compress(bytes(body))


def decode_pages(image: bytes, base: Buffer | PageMap | None = None) -> PageMap:
    """Decode an image into a ``PageMap`` (``base`` required for a delta image)."""
    if len(image) < _HEADER.size:
        raise MemoryImageError("memory image truncated")
    magic, version, flags, size, base_size, base_digest, count = _HEADER.unpack_from(image)
    if magic != _MAGIC or version != _VERSION:
        raise MemoryImageError("not a wasi-rr memory image (bad magic or version)")
    try:
        body = zstandard.ZstdDecompressor().decompress(image[_HEADER.size :])
    except zstandard.ZstdError as exc:
        raise MemoryImageError(f"memory image corrupt: {exc}") from None
    pages: dict[int, bytes] = {}
    if flags & _FLAG_DELTA:
        if base is None:
            raise MemoryImageError("delta memory image decoded without its base")
        base_map = _as_pagemap(base)
        if base_map.size != base_size or base_map.digest() != base_digest:
            raise MemoryImageError("delta memory image decoded against the wrong base")
        last = (size + PAGE_SIZE - 1) // PAGE_SIZE
        for index, page in base_map.pages.items():
            if index < last:
                page = page[: size - index * PAGE_SIZE]
                if page.strip(b"\0"):
                    pages[index] = page
    indices = struct.unpack_from(f"<{count}I", body) if len(body) >= 4 * count else None
    if indices is None:
        raise MemoryImageError("memory image corrupt: page table truncated")
    pos = 4 * count
    for index in indices:
        length = min(PAGE_SIZE, size - index * PAGE_SIZE)
        if length <= 0 or pos + length > len(body):
            raise MemoryImageError("memory image corrupt: page out of range")
        page = body[pos : pos + length]
        pos += length
        if page.count(0) == length:
            pages.pop(index, None)
        else:
            pages[index] = page
    if pos != len(body):
        raise MemoryImageError("memory image corrupt: trailing data")
    return PageMap(size, pages)


def decode(image: bytes, base: Buffer | PageMap | None = None) -> bytes:
    """Decode an image into the full memory bytes."""
    return decode_pages(image, base).to_bytes()


def write_into(pages: PageMap, memory: memoryview, *, zero_from: int | None = None) -> None:
    """Make ``memory[:pages.size]`` equal to ``pages`` (``memory`` may be larger).

    Used to restore a snapshot into a fresh instance whose memory already
    holds the module's data segments: chunks that are non-zero but absent from
    the image are zeroed, so only touched chunks are written.  ``zero_from``
    promises that ``memory[zero_from:]`` is all zero (pages just added by
    ``memory.grow``), which spares reading them.
    """
    mv = memory.cast("B") if memory.format != "B" else memory
    if len(mv) < pages.size:
        raise ValueError(f"memory too small: {len(mv)} < {pages.size}")
    by_chunk: dict[int, list[int]] = {}
    for index in pages.pages:
        by_chunk.setdefault(index // _PAGES_PER_CHUNK, []).append(index)
    for chunk_no, start in enumerate(range(0, pages.size, _CHUNK)):
        end = min(start + _CHUNK, pages.size)
        wanted = by_chunk.get(chunk_no)
        known_zero = zero_from is not None and start >= zero_from
        if wanted is None:
            if not known_zero and bytes(mv[start:end]) != _ZERO_CHUNK[: end - start]:
                mv[start:end] = _ZERO_CHUNK[: end - start]
            continue
        if len(wanted) < _PAGES_PER_CHUNK and not known_zero:
            mv[start:end] = _ZERO_CHUNK[: end - start]
        for index in wanted:
            page = pages.pages[index]
            mv[index * PAGE_SIZE : index * PAGE_SIZE + len(page)] = page
