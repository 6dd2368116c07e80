"""Where pyg_sgg keeps generated data and cached artefacts (never the working directory), and
the content fingerprints that key those caches (never a path or a modification time, so a
copied or moved cache stays valid)."""
import hashlib
import os
from pathlib import Path
from typing import Union

__all__ = ["cache_dir", "file_fingerprint"]

_WHOLE_FILE_LIMIT = 256 << 20  # bytes hashed whole; larger files: head + tail + size
_PART = 16 << 20


def cache_dir() -> Path:
    """``$PYG_SGG_CACHE`` or ``~/.cache/pyg_sgg``; created on first use."""
    root = Path(os.environ.get("PYG_SGG_CACHE", Path.home() / ".cache" / "pyg_sgg"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def file_fingerprint(path: Union[str, Path]) -> str:
    """16 hex digits of SHA-1 over a file's bytes (files over 256 MiB: its size and its first
    and last 16 MiB, e.g. a multi-GB GloVe text file). Independent of the path and times."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha1(str(size).encode())
    with open(path, "rb") as f:
        if size <= _WHOLE_FILE_LIMIT:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(f.read(_PART))
            f.seek(size - _PART)
            h.update(f.read(_PART))
    return h.hexdigest()[:16]
