"""Does a dicts file belong to its h5? The class *counts* of two VG150-format datasets often
agree (150 objects, 50 predicates), so a wrong dicts file passes every range check and
training runs under the wrong names. The genuine ``VG-SGG-dicts-with-attri.json`` also holds
``object_count`` / ``predicate_count`` (per name, counted on Visual Genome before VG150's
split); the h5's own label frequencies follow them closely (the same annotations). A rank
correlation far below that says the dicts file was made for other data.
"""
import json
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

__all__ = ["frequency_agreement", "vocabulary_mismatches"]

MIN_CLASSES = 10  # fewer classes: a rank correlation says too little
MIN_RHO = 0.3  # genuine VG150 (dicts counts vs its h5) is far above; unrelated data near 0


def frequency_agreement(counts: Sequence[float], observed: Sequence[float]) -> float:
    """Spearman's rank correlation of two count vectors of one vocabulary (ties averaged)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(counts, float), np.asarray(observed, float)
    if a.std() == 0 or b.std() == 0:
        return 1.0  # a constant vector ranks nothing: no evidence either way
    return float(spearmanr(a, b).statistic)


def vocabulary_mismatches(dicts_file, object_classes: List[str], predicate_classes: List[str],
                          labels: np.ndarray, predicates: np.ndarray) -> List[str]:
    """One line per vocabulary (objects, predicates) whose dicts counts do not follow the h5's
    frequencies: ``<dicts>: field '<predicate_count>': ...``. ``labels`` / ``predicates``: the
    h5's class indices (1-based) over every image. Empty when the dicts hold no counts."""
    try:
        info = json.loads(Path(dicts_file).read_text())
    except (OSError, ValueError):
        return []  # load_vg_info reports an unreadable file
    out = []
    for field, names, values in (("object_count", object_classes, labels),
                                 ("predicate_count", predicate_classes, predicates)):
        line = _mismatch(dicts_file, field, info.get(field), names[1:], values)
        if line:
            out.append(line)
    return out


def _mismatch(dicts_file, field: str, counts: Optional[dict], names: List[str],
              values: np.ndarray) -> Optional[str]:
    if not isinstance(counts, dict) or len(names) < MIN_CLASSES or len(values) == 0:
        return None
    if any(n not in counts for n in names):
        return None  # counts of another vocabulary layout: nothing to compare
    expected = np.asarray([float(counts[n]) for n in names])
    observed = np.bincount(np.asarray(values, np.int64) - 1, minlength=len(names))[:len(names)]
    rho = frequency_agreement(expected, observed)
    if rho >= MIN_RHO:
        return None
    top = names[int(np.argmax(expected))]
    return (f"{dicts_file}: field '{field}': the h5's class frequencies do not follow this "
            f"file's counts (Spearman rho {rho:.2f} over {len(names)} classes; its most "
            f"counted, '{top}', is rank {int((observed > observed[names.index(top)]).sum()) + 1}"
            f" in the h5): is the dicts file from another dataset?")
