"""Where pyg_sgg keeps generated data and cached artefacts (never the working directory)."""
import os
from pathlib import Path


def cache_dir() -> Path:
    """``$PYG_SGG_CACHE`` or ``~/.cache/pyg_sgg``; created on first use."""
    root = Path(os.environ.get("PYG_SGG_CACHE", Path.home() / ".cache" / "pyg_sgg"))
    root.mkdir(parents=True, exist_ok=True)
    return root
