"""Training metrics on disk: one JSON line per record in ``metrics.json`` plus TensorBoard
scalars; on resume the lines logged after the checkpoint are dropped, so a continued run's
file reads as if it had never stopped."""
import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, Optional

from .checkpoint import atomic_write_text

__all__ = ["MetricsWriter", "flatten_results"]

logger = logging.getLogger(__name__)


def flatten_results(results: Dict[str, Any], prefix: str = "") -> Dict[str, float]:
    """``{"a": {"b": 1}}`` → ``{"a/b": 1.0}``, numbers only. For the evaluator's
    ``{"metrics": {...}, "per_predicate": ..., "counts": ...}`` only ``metrics`` is kept
    (keys ``"R@100"``, ``"mR@50"``, ...)."""
    if not prefix and isinstance(results, dict) and isinstance(results.get("metrics"), dict):
        results = results["metrics"]
    out: Dict[str, float] = {}
    for k, v in (results or {}).items():
        if isinstance(v, dict):
            out.update(flatten_results(v, f"{prefix}{k}/"))
        elif isinstance(v, (int, float)) or (hasattr(v, "item") and getattr(v, "ndim", 1) == 0):
            out[f"{prefix}{k}"] = float(v)
    return out


class MetricsWriter:
    """Writes ``output_dir/metrics.json`` and TensorBoard events (when installed).

    Args:
        output_dir (Path): the run folder.
        resume_iteration (int, optional): continue an existing file, keeping only the lines
            of iterations up to this one; ``None`` starts a new file.
    """

    def __init__(self, output_dir: Path, resume_iteration: Optional[int] = None):
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "metrics.json"
        if resume_iteration is not None and path.exists():
            keep = [ln for ln in path.read_text().splitlines()
                    if ln.strip() and json.loads(ln).get("iteration", 0) <= resume_iteration]
            atomic_write_text("".join(ln + "\n" for ln in keep), path)
        elif path.exists():
            path.unlink()
        self._file = open(path, "a")
        self._tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter
            self._tb = SummaryWriter(str(self.output_dir), purge_step=resume_iteration)
        except ImportError:  # tensorboard is optional at run time
            logger.warning("tensorboard is not installed: no event files "
                           "(pip install tensorboard)")

    def write(self, iteration: int, metrics: Dict[str, Any]) -> None:
        """One ``{"iteration": iteration, **metrics}`` line; finite numbers to TensorBoard."""
        self._file.write(json.dumps({"iteration": iteration, **metrics}) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, iteration)
            self._tb.flush()

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
