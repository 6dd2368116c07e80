"""Stage-wise relation class weights from training frequencies (HML §3.3)."""
import numpy as np
import torch
from torch import Tensor

__all__ = ["stage_class_weights"]


def stage_class_weights(predicate_counts, classes, mode: str = "effective",
                        beta: float = 0.999, bg_ratio: float = 0.25) -> Tensor:
    """Weights ``[P + 1]`` for a weighted cross-entropy over the stage's ``classes``.

    * ``"effective"``: Cui et al.'s effective number, :math:`w_c \\propto (1-\\beta) /
      (1-\\beta^{n_c})`;
    * ``"inverse"``: :math:`w_c \\propto 1 / n_c`;
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
