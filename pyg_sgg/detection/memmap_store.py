"""One cache entry of flat memory-mapped arrays, written atomically.

:class:`EntryWriter` streams rows into ``<name>.bin`` files of a temporary folder next to the
entry and renames it into place only when everything (arrays, pointers, ``meta.json``) is
written, so a killed build leaves no entry, and the next build starts over instead of
reading it. :func:`read_entry` memory-maps a finished entry.
"""
import json
import os
import shutil
from pathlib import Path
from typing import Dict, List

import numpy as np

__all__ = ["EntryWriter", "read_entry", "remove_dead_builds", "entry_exists",
           "drop_other_entries"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_builds(folder: Path, prefix: str) -> None:
    """Delete ``.tmp-<prefix>…-<pid>`` folders left by builds whose process is gone."""
    for tmp in Path(folder).glob(f".tmp-{prefix}*"):
        pid = tmp.name.rpartition("-")[2]
        if not pid.isdigit() or not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def entry_exists(path: Path) -> bool:
    """Whether the entry folder ``path`` was finished (its ``meta.json`` is written last)."""
    return (Path(path) / "meta.json").is_file()


def drop_other_entries(folder: Path, pattern: str, keep: Path) -> None:
    """Delete the entry folders of ``folder`` matching ``pattern`` except ``keep``."""
    for old in Path(folder).glob(pattern):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


class EntryWriter:
    """Context manager writing the entry folder ``path`` (see module docstring).

    ``write(name, array)`` appends rows (all arrays of one name share the trailing shape
    and dtype); ``save(name, array)`` stores a small ``.npy``; on a clean exit ``meta``
    (plus ``shapes`` / ``dtypes``) goes to ``meta.json`` and the folder replaces ``path``.
    """

    def __init__(self, path: Path, meta: Dict):
        self.path = Path(path)
        self.meta = dict(meta)
        self.tmp = self.path.parent / f".tmp-{self.path.name}-{os.getpid()}"
        self.files: Dict = {}
        self.shapes: Dict[str, List[int]] = {}
        self.dtypes: Dict[str, str] = {}

    def __enter__(self) -> "EntryWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()
        return self

    def write(self, name: str, array: np.ndarray, dtype) -> None:
        arr = np.ascontiguousarray(array, dtype=dtype)
        if name not in self.files:
            self.files[name] = open(self.tmp / f"{name}.bin", "wb")
            self.shapes[name] = [0, *arr.shape[1:]]
            self.dtypes[name] = np.dtype(dtype).str
        self.files[name].write(arr.tobytes())
        self.shapes[name][0] += arr.shape[0]

    def save(self, name: str, array: np.ndarray) -> None:
        np.save(self.tmp / f"{name}.npy", array)

    def __exit__(self, exc_type, exc, tb) -> None:
        for fh in self.files.values():
            fh.close()
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        meta = {**self.meta, "shapes": self.shapes, "dtypes": self.dtypes}
        (self.tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)


def read_entry(path: Path, npy: List[str]) -> Dict[str, np.ndarray]:
    """The arrays of a finished entry: each ``<name>.bin`` memory-mapped (read-only) and the
    listed ``.npy`` files loaded; ``"meta"`` holds the parsed ``meta.json``."""
    path = Path(path)
    meta = json.loads((path / "meta.json").read_text())
    out: Dict = {"meta": meta}
    for name in npy:
        out[name] = np.load(path / f"{name}.npy")
    for name, shape in meta["shapes"].items():
        dtype = meta["dtypes"][name]
        if shape[0] == 0:
            out[name] = np.zeros(shape, dtype=dtype)
        else:
            out[name] = np.memmap(path / f"{name}.bin", mode="r", dtype=dtype,
                                  shape=tuple(shape))
    return out
