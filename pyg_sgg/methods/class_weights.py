"""Stage-wise relation class weights (HML §3.3): from training frequencies, or the
authors' published VG150 vectors."""
from typing import List, Optional

import numpy as np
import torch
from torch import Tensor

__all__ = ["stage_class_weights", "authors_stage_weights"]


def stage_class_weights(predicate_counts, classes, mode: str = "effective",
                        beta: float = 0.999, bg_ratio: float = 0.25) -> Tensor:
    """Weights ``[P + 1]`` for a weighted cross-entropy over the stage's ``classes``.

    * ``"effective"``: Cui et al.'s effective number, :math:`w_c \\propto (1-\\beta) /
      (1-\\beta^{n_c})`;
    * ``"inverse"``: :math:`w_c \\propto 1 / n_c` (with ``bg_ratio=0.25`` the shape of HML's
      published VG150 vectors, which are close to ``0.25 / frequency``; the README compares
      the two at VG150's counts);
    * ``"none"``: 1.

    Weights are normalised to mean 1 over the stage's classes; other classes get 0;
    foreground classes with count 0 get the largest in-stage weight. The background (class
    0, always in the stage) uses ``predicate_counts[0]`` when positive, else (SGB statistics
    store 0 there) ``bg_ratio`` × the smallest foreground weight, as HML's hard-coded
    vectors do (bg ≈ 0.25–0.28 × the weight of "on").
    The scale is irrelevant to a weighted-mean cross-entropy; only ratios matter.
    """
    counts = torch.as_tensor(np.asarray(predicate_counts), dtype=torch.float64).reshape(-1)
    classes = torch.as_tensor(classes, dtype=torch.long)
    n = counts[classes]
    if mode == "effective":
        w = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), n))
    elif mode == "inverse":
        w = 1.0 / n
    elif mode == "none":
        w = torch.ones_like(n)
    else:
        raise ValueError(f"stage_class_weights: field 'mode' must be "
                         f"'effective', 'inverse' or 'none', got {mode!r}")
    finite = torch.isfinite(w)
    w = torch.where(finite, w, w[finite].max() if finite.any() else torch.ones_like(w))
    if counts[0] <= 0 and (classes == 0).any() and (classes != 0).any():
        w[classes == 0] = bg_ratio * w[classes != 0].min()
    w = w * (w.numel() / w.sum())
    out = torch.zeros_like(counts)
    out[classes] = w
    return out.float()


def authors_stage_weights(predicate_names, stage_classes) -> Optional[List[Tensor]]:
    """HML's published VG150 weights (:mod:`~pyg_sgg.methods.hml_vg150_weights`) for these
    stages, or ``None`` where they do not apply.

    They apply when ``predicate_names`` (``[P + 1]``, background first) name the 50 VG150
    predicates (in any order; matched by name) and the stages are the authors' two: stage 0
    = the background and their ten coarse predicates, stage 1 = all classes.
    """
    from .hml_vg150_weights import hml_vg150_weights
    table = hml_vg150_weights()
    names = [str(n) for n in (predicate_names or [])]
    fg = names[1:]
    if len(stage_classes) != 2 or len(fg) != len(table) - 1 or set(fg) != set(table) - {
            "__background__"}:
        return None
    coarse = {n for n, (w0, _) in table.items() if w0 > 0 and n != "__background__"}
    stage0 = {names[int(c)] for c in stage_classes[0] if int(c) != 0}
    if stage0 != coarse or len(stage_classes[1]) != len(names):
        return None
    rows = [table["__background__"]] + [table[n] for n in fg]
    return [torch.tensor([r[s] for r in rows], dtype=torch.float32) for s in (0, 1)]
