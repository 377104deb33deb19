"""Per-partition checkpoints: operator state and the next offset to read, written together.

One file per (topic, partition) in a directory shared by every member of the consumer group (so state
moves with its partition). A checkpoint is written to a temporary file, fsynced and renamed over the
old one: a reader sees the old or the new checkpoint, never half of one, whenever the writer dies.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from fleetstream.exceptions import SnapshotError

_MAGIC = b"FSCK"
_HEADER = struct.Struct("<4sHqI")  # magic, version, next offset, number of state parts


@dataclass(frozen=True)
class Checkpoint:
    next_offset: int
    parts: tuple[bytes, ...]


class CheckpointStore:
    def __init__(self, directory: str | os.PathLike[str], name: str) -> None:
        self.directory = Path(directory)
        self.name = name
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, topic: str, partition: int) -> Path:
        return self.directory / f"{self.name}.{topic}.{partition}.ckpt"

    def save(self, topic: str, partition: int, checkpoint: Checkpoint) -> None:
        body = bytearray(_HEADER.pack(_MAGIC, 1, checkpoint.next_offset, len(checkpoint.parts)))
        for part in checkpoint.parts:
            body += struct.pack("<Q", len(part)) + part
        body += struct.pack("<I", zlib.crc32(body))
        target = self.path(topic, partition)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)

    def load(self, topic: str, partition: int) -> Checkpoint | None:
        target = self.path(topic, partition)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            return None
        if len(data) < _HEADER.size + 4 or zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
            raise SnapshotError(f"checkpoint {target} is corrupt (bad length or checksum)")
        magic, version, next_offset, count = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != 1:
            raise SnapshotError(f"{target} is not a fleetstream checkpoint of version 1")
        parts = []
        at = _HEADER.size
        for _ in range(count):
            (size,) = struct.unpack_from("<Q", data, at)
            at += 8
            parts.append(data[at:at + size])
            at += size
        return Checkpoint(next_offset, tuple(parts))
