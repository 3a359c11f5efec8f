"""Shard files of the image cache: fixed-size records, written then renamed, read by mmap.

Implementation detail of ``core.data.cache``; import from there.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

ShardMap = tuple[mmap.mmap, np.ndarray]  # a shard's memory map and its records' view


class _ShardWriter:
    """Appends fixed-size records to a temporary file, with a running CRC-32."""

    def __init__(self, folder: Path, family: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.family, self.shape, self.dtype = family, tuple(shape), dtype
        self.name = f"{family}-{uuid.uuid4().hex}.rec"
        self.final = folder / self.name
        self.temp = folder / f"{self.name}.{os.getpid()}.tmp"
        self._file = self.temp.open("wb")
        self.digests: list[str] = []
        self.crc, self.nbytes = 0, 0

    @property
    def count(self) -> int:
        return len(self.digests)

    def add(self, digest: str, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array, dtype=self.dtype)
        if data.shape != self.shape:
            raise ValueError(f"record shape {data.shape} != {self.shape}")
        raw = data.tobytes()
        self._file.write(raw)
        self.crc = zlib.crc32(raw, self.crc)
        self.nbytes += len(raw)
        self.digests.append(digest)

    def finish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self.count:
            os.replace(self.temp, self.final)
        else:
            self.temp.unlink()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self.temp.unlink()


class CachedRecords:
    """Fixed-size records gathered from memory-mapped shards; `reader[idx]` is a tensor.

    Pages read are released back to the OS every so often (madvise), so resident memory
    does not grow with the data set even though every record is read each epoch.
    """

    _RELEASE_EVERY = 16 * 1024 * 1024  # bytes read between hand-backs (a few batches)

    def __init__(
        self,
        maps: list[ShardMap],
        shard_of: np.ndarray,
        slot_of: np.ndarray,
        digests: list[str],
        shape: Sequence[int],
    ) -> None:
        self._maps = maps  # (mmap, ndarray view) per shard
        self._shard_of, self._slot_of = shard_of, slot_of
        self.digests = digests
        self.shape = tuple(shape)
        self._read = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __getitem__(self, idx: torch.Tensor | np.ndarray | Sequence[int] | slice) -> torch.Tensor:
        rows = np.arange(len(self))[idx] if isinstance(idx, slice) else np.asarray(idx)
        rows = rows.astype(np.int64).reshape(-1)
        out = np.empty((len(rows), *self.shape), dtype=self._dtype())
        self._gather(rows, out)
        return torch.from_numpy(out)

    def _dtype(self) -> np.dtype:
        return self._maps[0][1].dtype if self._maps else np.dtype(np.uint8)

    def _gather(self, rows: np.ndarray, out: np.ndarray) -> None:
        """Copy the records `rows` into `out`, handing mapped pages back every so often."""
        shards = self._shard_of[rows]
        for shard in np.unique(shards):
            mask = shards == shard
            out[mask] = self._maps[shard][1][self._slot_of[rows[mask]]]
        self._read += out.nbytes
        if self._read >= self._RELEASE_EVERY:
            self.release()

    def release(self) -> None:
        """Hand the pages read so far back to the OS (they stay in the page cache)."""
        self._read = 0
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        for mm, _view in self._maps:
            with contextlib.suppress(OSError, ValueError):
                mm.madvise(mmap.MADV_DONTNEED)

    def all(self) -> torch.Tensor:
        """Every record, in order, as one in-RAM tensor (for small records: embeddings),
        filled a few MB at a time straight into it: one copy in RAM, no chunk beside it,
        the mapped pages handed back as it goes."""
        out = torch.from_numpy(np.empty((len(self), *self.shape), dtype=self._dtype()))
        filled = out.numpy()
        record = max(1, filled.itemsize * int(np.prod(self.shape)))
        step = max(1, self._RELEASE_EVERY // 4 // record)
        for start in range(0, len(self), step):
            stop = min(start + step, len(self))
            self._gather(np.arange(start, stop), filled[start:stop])
        self.release()
        return out


def _crc_file(path: Path) -> int:
    crc = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def _open_shard(
    path: Path, count: int | None, record: int, shape: Sequence[int], dtype: np.dtype
) -> ShardMap | None:
    """(mmap, records view) of a shard, or None when it is missing or its length is wrong."""
    if not count:
        return None
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size != count * record:
                return None
            mm = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    view = np.frombuffer(mm, dtype=dtype).reshape(count, *shape)
    return mm, view
