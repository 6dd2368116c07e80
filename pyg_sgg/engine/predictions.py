"""Concatenate chunks of the predictions interchange format (DESIGN.md, end).

Each chunk is a dict for some images; per-image arrays are delimited by pointer arrays of
length ``num_images + 1``. Array keys follow the pointer of their prefix:

* ``gt_rel*`` → ``gt_rel_ptr``; other ``gt_*`` → ``gt_obj_ptr``;
* ``rel_*`` → ``rel_ptr``; ``pred_*`` → ``pred_obj_ptr``;
* ``image_ids`` is per image; everything else (``num_predicates``, ``train_triplets``,
  ``predicate_names``, ...) is global and taken from the first chunk.
"""
from typing import Any, Dict, List

import numpy as np
import torch

__all__ = ["to_numpy", "merge_predictions", "POINTERS"]

POINTERS = ("gt_obj_ptr", "gt_rel_ptr", "pred_obj_ptr", "rel_ptr")
PER_IMAGE = ("image_ids",)


def _pointer_of(key: str):
    if key in POINTERS or key in PER_IMAGE:
        return None
    if key.startswith("gt_rel"):
        return "gt_rel_ptr"
    if key.startswith("gt_"):
        return "gt_obj_ptr"
    if key.startswith("rel_"):
        return "rel_ptr"
    if key.startswith("pred_"):
        return "pred_obj_ptr"
    return None


def to_numpy(d: Dict[str, Any]) -> Dict[str, Any]:
    """Tensors of ``d`` as numpy arrays (CPU), other values unchanged."""
    return {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
            for k, v in d.items()}


def merge_predictions(chunks: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One predictions dict for all images of ``chunks`` (in order)."""
    chunks = [to_numpy(c) for c in chunks if c]
    if not chunks:
        return {}
    if len(chunks) == 1:
        return dict(chunks[0])
    out: Dict[str, Any] = {}
    for key in chunks[0]:
        vals = [c[key] for c in chunks]
        if key in POINTERS:
            offsets = np.cumsum([0] + [int(v[-1]) for v in vals[:-1]])
            out[key] = np.concatenate([vals[0][:1]] + [np.asarray(v[1:]) + o
                                                       for v, o in zip(vals, offsets)])
        elif key in PER_IMAGE or (_pointer_of(key) is not None and _pointer_of(key) in chunks[0]):
            out[key] = np.concatenate([np.asarray(v) for v in vals], axis=0)
        else:
            out[key] = vals[0]
    return out
