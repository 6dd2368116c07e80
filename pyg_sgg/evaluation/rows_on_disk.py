"""An array stored uncompressed inside an ``.npz``, read a block of rows at a time.

A VG-sized SGDet predictions file holds ``rel_scores`` of ``[ΣR, P+1]`` float32 — 0.4 GB at
5,000 images × 400 pairs — while the evaluator needs one chunk of images at a time.
:class:`RowsOnDisk` finds where the member's data starts in the zip (``np.savez`` stores
members uncompressed, so the bytes are the ``.npy`` payload) and reads the rows a slice asks
for with one ``seek`` + ``np.fromfile``: nothing is held between slices, and the operating
system's page cache, not the process, keeps the file.
"""
import struct
import zipfile
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import numpy.lib.format as npy_format

_LOCAL_HEADER = struct.Struct("<4s22sHH")  # signature, fixed fields, name / extra lengths
_LOCAL_SIGNATURE = b"PK\x03\x04"
_HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0,
                   (2, 0): npy_format.read_array_header_2_0}


class RowsOnDisk:
    """Rows ``[start:stop]`` of a C-order array at byte ``offset`` of ``path``.

    Args:
        path (Path): the file.
        offset (int): byte where the array's data starts.
        dtype (np.dtype): element type.
        shape (tuple): the array's shape; rows are the first axis.

    Only what the evaluator asks of an array is offered: ``shape``, ``dtype``, ``ndim``,
    ``size``, ``len``, a row slice (``a[i:j]`` → ``np.ndarray``) and ``np.asarray(a)`` (reads
    everything).
    """

    def __init__(self, path: Path, offset: int, dtype: np.dtype, shape: Tuple[int, ...]):
        self.path, self.offset = Path(path), int(offset)
        self.dtype, self.shape = np.dtype(dtype), tuple(int(s) for s in shape)
        self._row_items = int(np.prod(self.shape[1:], dtype=np.int64))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """``[stop - start, *shape[1:]]`` rows read from the file."""
        start, stop = max(0, start), min(stop, self.shape[0])
        count = max(0, stop - start) * self._row_items
        with open(self.path, "rb") as fh:
            fh.seek(self.offset + start * self._row_items * self.dtype.itemsize)
            out = np.fromfile(fh, dtype=self.dtype, count=count)
        if out.size != count:
            raise EOFError(f"{self.path}: the file ends inside an array (truncated)")
        return out.reshape((max(0, stop - start),) + self.shape[1:])

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(self.shape[0])
            return self.rows(start, max(start, stop))
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        out = self.rows(0, self.shape[0])
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"RowsOnDisk({self.path.name}@{self.offset}, shape={self.shape}, {self.dtype})"


def stored_npz_member(path: Path, key: str) -> Optional[RowsOnDisk]:
    """``key`` of the ``.npz`` at ``path`` as :class:`RowsOnDisk` when it is stored
    uncompressed, C-order, of a numeric dtype and at least 1-D; else ``None`` (read it with
    ``np.load``). Raises ``zipfile.BadZipFile`` / ``EOFError`` on a damaged archive."""
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo(key + ".npy")
        except KeyError:
            return None
        if info.compress_type != zipfile.ZIP_STORED:
            return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        raw = fh.read(_LOCAL_HEADER.size)
        if len(raw) != _LOCAL_HEADER.size:
            raise EOFError("the archive ends inside a member's header")
        signature, _, name_len, extra_len = _LOCAL_HEADER.unpack(raw)
        if signature != _LOCAL_SIGNATURE:
            raise zipfile.BadZipFile(f"member {key!r}: bad local header")
        start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        fh.seek(start)
        version = npy_format.read_magic(fh)
        read_header = _HEADER_READERS.get(version)
        if read_header is None:  # a newer .npy version: leave it to np.load
            return None
        shape, fortran, dtype = read_header(fh)
        data_offset = fh.tell()
    if fortran or dtype.hasobject or dtype.kind not in "iuf" or len(shape) < 1:
        return None
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if data_offset - start + nbytes != info.file_size:
        raise EOFError(f"member {key!r}: its size does not match its header")
    return RowsOnDisk(path, data_offset, dtype, shape)
