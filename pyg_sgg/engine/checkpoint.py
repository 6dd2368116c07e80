"""Checkpoints that are never half-written, and the RNG states that make resume exact.

A checkpoint is written to a temporary file in the same folder, flushed and ``fsync``-ed,
then ``os.replace``-d over its final name (atomic on POSIX), and the folder is ``fsync``-ed.
A crash at any point leaves either the previous file or the new one, never a partial file.
``last_checkpoint`` (a one-line text file, also written atomically) names the newest one.
"""
import os
import random
import re
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from ..checkpoint_io import read_checkpoint

__all__ = ["atomic_save", "atomic_write_text", "Checkpointer", "get_rng_state",
           "set_rng_state"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:  # e.g. platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; use the usual umask mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_save(obj: Any, path) -> None:
    """``torch.save(obj, path)`` via temp file + fsync + ``os.replace``."""
    _atomic_write(Path(path), lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path) -> None:
    """Write ``text`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def get_rng_state() -> Dict[str, Any]:
    """The python, numpy, torch (and CUDA) global RNG states of this process."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpointer:
    """Saves ``model_<iter>.pth`` / ``model_final.pth`` / ``model_best.pth`` in ``save_dir``.

    Args:
        save_dir (str or Path): the output folder.
        max_to_keep (int): periodic checkpoints kept; older ones are deleted (``last`` and
            ``best`` are never deleted). (default: ``2``)
    """

    _PERIODIC = re.compile(r"^model_(\d{7})\.pth$")

    def __init__(self, save_dir, max_to_keep: int = 2):
        self.save_dir = Path(save_dir)
        self.max_to_keep = max_to_keep

    def remove_stale_temp_files(self) -> int:
        """Delete temp files left by a process killed while writing; returns how many."""
        n = 0
        for p in self.save_dir.glob(".*.tmp"):
            p.unlink(missing_ok=True)
            n += 1
        return n

    def save(self, name: str, state: Dict[str, Any], tag_last: bool = True) -> Path:
        """Write ``state`` to ``<save_dir>/<name>.pth``; point ``last_checkpoint`` at it."""
        path = self.save_dir / f"{name}.pth"
        atomic_save(state, path)
        if tag_last:
            atomic_write_text(path.name, self.save_dir / "last_checkpoint")
            self._prune()
        return path

    def _prune(self) -> None:
        if self.max_to_keep <= 0:
            return
        periodic: List[Path] = sorted(p for p in self.save_dir.glob("model_*.pth")
                                      if self._PERIODIC.match(p.name))
        last = self.last_checkpoint()
        for p in periodic[:-self.max_to_keep]:
            if last is None or p != last:
                p.unlink(missing_ok=True)

    def last_checkpoint(self) -> Optional[Path]:
        """The newest checkpoint named by ``last_checkpoint``, or ``None``."""
        tag = self.save_dir / "last_checkpoint"
        if not tag.exists():
            return None
        path = self.save_dir / tag.read_text().strip()
        return path if path.exists() else None

    @staticmethod
    def load(path, map_location="cpu") -> Dict[str, Any]:
        """Read a checkpoint; a missing file fails naming its path."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: checkpoint not found")
        return read_checkpoint(path, map_location)
