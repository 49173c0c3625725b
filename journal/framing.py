"""Byte-level layout of a journal file: the file prefix and checksummed frames.

A journal is ``PREFIX`` followed by frames. Every frame has a fixed 36-byte
header with its own CRC, so a reader can tell a *truncated* file (the header or
payload runs past end of file: everything before is intact) from a *corrupt* one
(a header or payload checksum does not match, a magic is wrong). The header CRC is
checked before its length fields are trusted, so a flipped bit in a length can
never masquerade as a truncation.

Frame header (little endian)::

    offset size field
         0    4 magic      b"WRRF"
         4    1 kind       FrameKind
         5    1 codec      Codec (0 = stored, 1 = zstd)
         6    2 flags      reserved, 0
         8    4 count      msgpack objects in the payload (entries frames)
        12    8 first      index of the first object among all entries frames
        20    4 raw_len    payload length after decompression
        24    4 plen       payload length on disk
        28    4 pcrc       CRC-32 of the payload as stored on disk
        32    4 hcrc       CRC-32 of bytes 0..31 of this header
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

FILE_MAGIC = b"\x89WRR\r\n\x1a\n"
"""PNG-style magic: a high byte, CR LF and ^Z catch text-mode and 7-bit transfer damage."""
PREFIX = struct.Struct("<8sHH")
"""File prefix: magic, format major, format minor."""
FRAME_MAGIC = b"WRRF"
FRAME_HEADER = struct.Struct("<4sBBHIQIII")
FRAME_HEADER_SIZE = FRAME_HEADER.size + 4
MAX_FRAME_PAYLOAD = 0xFFFF_FFFF


class FrameKind(enum.IntEnum):
    """What a frame holds. Readers skip kinds they do not know (same major version)."""

    HEADER = 1
    """msgpack map: the journal header. Always the first frame."""
    BLOB = 2
    """msgpack map {"kind", "sha256", "data"}: content-addressed blob (the module)."""
    ENTRIES = 3
    """Concatenated msgpack entries (syscalls, events, per-frame definitions)."""
    END = 4
    """msgpack map: summary written by ``close()``; its absence means truncation."""


class Codec(enum.IntEnum):
    STORED = 0
    ZSTD = 1


@dataclass(frozen=True, slots=True)
class FrameHeader:
    kind: int
    codec: int
    count: int
    first: int
    raw_len: int
    plen: int
    pcrc: int


def encode_frame_header(kind: int, codec: int, count: int, first: int, raw_len: int,
                        payload: bytes) -> bytes:
    """Return the 36 header bytes for ``payload`` (already compressed)."""
    head = FRAME_HEADER.pack(FRAME_MAGIC, kind, codec, 0, count, first, raw_len,
                             len(payload), zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head))


def decode_frame_header(buf: bytes) -> FrameHeader | str:
    """Parse a full 36-byte header; return an error reason string when it is damaged."""
    head = buf[: FRAME_HEADER.size]
    (hcrc,) = struct.unpack_from("<I", buf, FRAME_HEADER.size)
    magic, kind, codec, _flags, count, first, raw_len, plen, pcrc = FRAME_HEADER.unpack(head)
    if magic != FRAME_MAGIC:
        return f"bad frame magic {magic!r}"
    if zlib.crc32(head) != hcrc:
        return "frame header checksum mismatch"
    return FrameHeader(kind, codec, count, first, raw_len, plen, pcrc)
