"""The Polar IoU loss of PolarMask (Xie et al., CVPR'20): for an instance with ``n`` ray
lengths ``d`` (predicted) and ``d*`` (target) from one centre at the same angles,

    L = log( sum_k max(d_k, d*_k) / sum_k min(d_k, d*_k) ),

the negative log of the polar IoU (the discrete form of the area ratio of the two contours
when ``n`` grows). Two concentric circles of radii ``r1 < r2``: IoU ``r1 / r2``.
"""
from torch import Tensor

__all__ = ["polar_iou_loss", "polar_iou"]


def polar_iou(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """``[N]`` polar IoU ``sum min / sum max`` of ray lengths ``pred, target [N, n]``."""
    lo = pred.minimum(target).clamp_min(eps).sum(-1)
    hi = pred.maximum(target).clamp_min(eps).sum(-1)
    return lo / hi


def polar_iou_loss(pred: Tensor, target: Tensor, weight: Tensor = None,
                   eps: float = 1e-6) -> Tensor:
    """Mean over instances of ``log(sum max / sum min)``; ``weight [N]`` (e.g. 0 for empty
    targets) weights the mean; a graph-connected 0 without instances.

    Args:
        pred (Tensor): ``[N, n]`` predicted ray lengths (non-negative).
        target (Tensor): ``[N, n]`` target ray lengths.
        weight (Tensor, optional): ``[N]`` instance weights.
    """
    if pred.size(0) == 0:
        return pred.sum() * 0.0
    hi = pred.maximum(target).clamp_min(eps).sum(-1)
    lo = pred.minimum(target).clamp_min(eps).sum(-1)
    loss = hi.log() - lo.log()
    if weight is None:
        return loss.mean()
    w = weight.to(loss.dtype)
    return (loss * w).sum() / w.sum().clamp_min(eps)
