"""Which training images hold given predicates, for HML's per-stage training data."""
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["images_with_predicates"]


def _base(dataset):
    """The innermost dataset (through ``.dataset`` wrappers such as the detector-feature
    dataset) that offers ``split_arrays``, or ``None``."""
    d = dataset
    while d is not None:
        if hasattr(d, "split_arrays"):
            return d
        d = getattr(d, "dataset", None)
    return None


def _labels(item):
    for key in ("gt_rel_label", "edge_label"):
        if key in item:
            return item[key]
    raise ValueError("images_with_predicates: a dataset item has neither field "
                     "'gt_rel_label' nor 'edge_label'")


def image_predicates(dataset):
    """``(rel_ptr [I + 1], predicates [ΣM])`` of every image's annotated relations, read from
    ``split_arrays()`` where a wrapped dataset offers it (no image or feature is loaded),
    else from each item's ``gt_rel_label`` (or its candidate pairs' ``edge_label``, whose
    background 0 no predicate list contains)."""
    base = _base(dataset)
    if base is not None and len(base) == len(dataset):
        raw = base.split_arrays()
        ptr = np.asarray(raw["rel_ptr"], np.int64)
        if len(ptr) == len(dataset) + 1:
            rels = np.asarray(raw["relations"], np.int64).reshape(-1, 3)
            return ptr, rels[:, 2]
    labels = [np.asarray(_labels(dataset[i]), np.int64).reshape(-1)
              for i in range(len(dataset))]
    ptr = np.concatenate([[0], np.cumsum([len(x) for x in labels])]).astype(np.int64)
    return ptr, (np.concatenate(labels) if labels else np.zeros(0, np.int64))


def images_with_predicates(dataset, predicates: Sequence[int]) -> Tensor:
    """Indices ``[K]`` of the images of ``dataset`` with at least one relation whose
    predicate is in ``predicates`` (vectorised over all relations)."""
    ptr, pred = image_predicates(dataset)
    hit = np.isin(pred, np.asarray(list(predicates), np.int64))
    image = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    return torch.from_numpy(np.unique(image[hit]).astype(np.int64))
