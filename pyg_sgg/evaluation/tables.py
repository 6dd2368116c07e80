"""Text report and ``metrics.json`` of an evaluation result, in the spirit of SGB's log."""
import json
import re
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

_K = re.compile(r"^(?P<name>.+?)@(?P<k>\d+)(?P<bin>\[.*\])?$")


def _fmt(v: Optional[float]) -> str:
    return "   -  " if v is None else f"{100 * v:6.2f}"


def format_results(results: Dict[str, dict], title: str = "",
                   predicate_order: Optional[Sequence[str]] = None) -> str:
    """One table of all metrics × K (percent), then a per-predicate table.

    ``predicate_order`` (e.g. by training frequency) orders the second table.
    """
    metrics = results["metrics"]
    rows: Dict[str, Dict[int, Optional[float]]] = {}
    ks = []
    for key, value in metrics.items():
        m = _K.match(key)
        if m is None:
            continue
        name = m["name"] + (m["bin"] or "")
        k = int(m["k"])
        rows.setdefault(name, {})[k] = value
        if k not in ks:
            ks.append(k)
    width = max((len(n) for n in rows), default=6)
    lines = [title] if title else []
    lines.append(f"{'metric':<{width}} " + " ".join(f"{'@' + str(k):>6}" for k in ks))
    for name, by_k in rows.items():
        lines.append(f"{name:<{width}} " + " ".join(_fmt(by_k.get(k)) for k in ks))
    per_pred = results.get("per_predicate") or {}
    if per_pred:
        cols = [c for c in next(iter(per_pred.values()))]
        names = list(predicate_order) if predicate_order is not None else list(per_pred)
        pw = max(len(n) for n in names)
        lines.append("")
        lines.append(f"{'predicate':<{pw}} " + " ".join(f"{c:>8}" for c in cols))
        for n in names:
            if n in per_pred:
                lines.append(f"{n:<{pw}} " + " ".join(f"{_fmt(per_pred[n][c]):>8}" for c in cols))
    counts = results.get("counts") or {}
    if counts:
        lines.append("")
        lines.append("  ".join(f"{k}={v}" for k, v in counts.items() if not isinstance(v, dict)))
    return "\n".join(lines)


def write_metrics_json(results: Dict[str, dict], path: Union[str, Path]) -> Path:
    """Write ``results`` as ``metrics.json`` (``null`` where a metric is undefined)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=False))
    tmp.replace(path)
    return path
