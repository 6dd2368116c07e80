"""The evaluator object the training loop feeds (detectron2's reset / process / evaluate)."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .interchange import concat_predictions, validate_predictions
from .sgg_metrics import DEFAULT_FEWSHOT_BINS, DEFAULT_KS, evaluate_predictions


class SGGEvaluator:
    """Accumulates prediction chunks (interchange-format dicts) and scores them at the end.

    Args:
        mode (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"``.
        num_predicates (int, optional): ``P``; checked against each chunk.
        ks (sequence of int): recall cut-offs. (default: ``(20, 50, 100)``)
        train_triplets (array, optional): ``[T, 3]`` (subject class, object class,
            predicate) for zR@K / fsR@K; ``train_triplet_counts`` their counts.
        zeroshot_triplets (array, optional): ``[Z, 3]`` explicit zero-shot list.
        predicate_names (sequence of str, optional): with background at 0.
        order (str): ``"score"`` or ``"file"``. (default: ``"score"``)
    """

    def __init__(self, mode: str, num_predicates: Optional[int] = None,
                 ks: Sequence[int] = DEFAULT_KS, train_triplets=None,
                 train_triplet_counts=None, zeroshot_triplets=None,
                 predicate_names: Optional[Sequence[str]] = None, order: str = "score",
                 fewshot_bins: Sequence[Tuple[int, int]] = DEFAULT_FEWSHOT_BINS):
        if mode not in ("predcls", "sgcls", "sgdet"):
            raise ValueError(f"mode must be predcls, sgcls or sgdet, got {mode!r}")
        self.mode, self.num_predicates, self.ks = mode, num_predicates, tuple(ks)
        self.order, self.fewshot_bins = order, tuple(fewshot_bins)
        self.extras: Dict[str, np.ndarray] = {}
        for key, value in (("train_triplets", train_triplets),
                           ("train_triplet_counts", train_triplet_counts),
                           ("zeroshot_triplets", zeroshot_triplets),
                           ("predicate_names", predicate_names)):
            if value is not None:
                self.extras[key] = np.asarray(value)
        self.reset()

    def reset(self) -> None:
        self._chunks: List[Dict[str, np.ndarray]] = []

    def process(self, predictions: Dict[str, np.ndarray]) -> None:
        """Add the predictions of some images (one interchange dict)."""
        chunk = {k: np.asarray(v) for k, v in predictions.items()}
        if self.num_predicates is not None:
            chunk.setdefault("num_predicates", np.asarray(self.num_predicates))
            if int(chunk["num_predicates"]) != self.num_predicates:
                raise ValueError(f"predictions: key 'num_predicates' is "
                                 f"{int(chunk['num_predicates'])}, evaluator expects "
                                 f"{self.num_predicates}")
        self._chunks.append(chunk)

    def predictions(self) -> Dict[str, np.ndarray]:
        """Everything processed so far, as one interchange dict (with the extras)."""
        if not self._chunks:
            raise ValueError("SGGEvaluator: no predictions were processed")
        data = concat_predictions(self._chunks)
        for key, value in self.extras.items():
            data.setdefault(key, value)
        return data

    def evaluate(self) -> Dict[str, dict]:
        """``{"metrics", "per_predicate", "counts"}`` (see :func:`evaluate_predictions`)."""
        data = validate_predictions(self.predictions(), self.mode, source="<evaluator>")
        return evaluate_predictions(data, self.mode, self.ks, self.order, self.fewshot_bins)
