"""Scene-Graph-Benchmark's saved results (``eval_results.pytorch``) as a predictions
interchange dict, read without maskrcnn_benchmark and without running arbitrary pickles.

SGB's test writes ``torch.save({"groundtruths": [BoxList], "predictions": [BoxList]})``
(one BoxList per image; ``bbox``, ``size`` = (width, height), ``mode``, ``extra_fields``).
The ground truth carries ``labels`` and ``relation_tuple [M, 3]``; the predictions
``pred_labels``, ``pred_scores``, ``rel_pair_idxs [R, 2]`` and ``pred_rel_scores [R, P+1]``
(sorted by triplet score, as SGB's post-processor leaves them). The file is read with
``torch.load(weights_only=True)`` allowing only tensors, containers and a stand-in for
``BoxList`` (of maskrcnn_benchmark or its ``pysgg`` fork): anything else is refused.

    python -m pyg_sgg.evaluation.sgb_results eval_results.pytorch preds.npz
    python evaluate.py --sgb-results eval_results.pytorch --mode sgdet
"""
import sys
from pathlib import Path
from typing import Dict, Union

import numpy as np

from .interchange import PredictionsFormatError

__all__ = ["read_sgb_results"]

_BOXLIST_MODULES = ("maskrcnn_benchmark.structures.bounding_box",
                    "pysgg.structures.bounding_box")


def _boxlist_stand_ins():
    """Plain classes named like SGB's BoxList: the unpickler fills their ``__dict__``."""
    out = []
    for module in _BOXLIST_MODULES:
        cls = type("BoxList", (), {"__module__": module})
        out.append(cls)
    return out


def _xyxy(box, path, i, which) -> np.ndarray:
    d = getattr(box, "__dict__", {})
    if "bbox" not in d:
        raise PredictionsFormatError(f"{path}: {which}[{i}]: not a BoxList (no 'bbox')")
    b = np.asarray(d["bbox"], dtype=np.float32).reshape(-1, 4)
    if d.get("mode", "xyxy") == "xywh":  # BoxList.convert: x2 = x + w - 1
        b = np.concatenate([b[:, :2], b[:, :2] + np.maximum(b[:, 2:] - 1, 0)], 1)
    return b


def _field(box, name, path, i, which) -> np.ndarray:
    fields = box.__dict__.get("extra_fields", {})
    if name not in fields:
        raise PredictionsFormatError(f"{path}: {which}[{i}]: missing field '{name}' (has "
                                     f"{sorted(fields)})")
    return np.asarray(fields[name])


def read_sgb_results(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    """The interchange dict (see :mod:`.interchange`) of an SGB ``eval_results.pytorch``;
    validate it with :func:`~.interchange.validate_predictions` before scoring."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: SGB results file not found")
    try:
        with torch.serialization.safe_globals(_boxlist_stand_ins()):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        what = str(e).split("Unsupported global: ")[-1].split("\n")[0].strip()
        raise PredictionsFormatError(f"{path}: refused: it holds something other than "
                                     f"tensors and BoxLists ({what[:120]})") from None
    except Exception as e:  # not a torch file, truncated
        raise PredictionsFormatError(f"{path}: not a readable SGB results file "
                                     f"({type(e).__name__})") from None
    if not isinstance(data, dict) or not {"groundtruths", "predictions"} <= set(data):
        raise PredictionsFormatError(f"{path}: expected a dict with 'groundtruths' and "
                                     f"'predictions'")
    gts, preds = list(data["groundtruths"]), list(data["predictions"])
    if len(gts) != len(preds):
        raise PredictionsFormatError(f"{path}: {len(gts)} groundtruths but {len(preds)} "
                                     f"predictions")
    parts = {k: [] for k in ("gt_boxes", "gt_labels", "gt_rels", "pred_boxes", "pred_labels",
                             "pred_scores", "rel_pair_idx", "rel_scores")}
    counts = {k: [] for k in ("gt_obj", "gt_rel", "pred_obj", "rel")}
    num_predicates = None
    for i, (gt, pr) in enumerate(zip(gts, preds)):
        gb = _xyxy(gt, path, i, "groundtruths")
        rels = _field(gt, "relation_tuple", path, i, "groundtruths").reshape(-1, 3)
        pb = _xyxy(pr, path, i, "predictions")
        scores = _field(pr, "pred_rel_scores", path, i, "predictions")
        scores = scores.reshape(len(scores), -1) if scores.size else scores.reshape(0, 0)
        if scores.size:
            if num_predicates is None:
                num_predicates = scores.shape[1] - 1
            elif scores.shape[1] - 1 != num_predicates:
                raise PredictionsFormatError(f"{path}: predictions[{i}]: pred_rel_scores has "
                                             f"{scores.shape[1]} columns, earlier images "
                                             f"{num_predicates + 1}")
        parts["gt_boxes"].append(gb)
        parts["gt_labels"].append(_field(gt, "labels", path, i, "groundtruths").reshape(-1))
        parts["gt_rels"].append(rels)
        parts["pred_boxes"].append(pb)
        parts["pred_labels"].append(_field(pr, "pred_labels", path, i, "predictions")
                                    .reshape(-1))
        parts["pred_scores"].append(_field(pr, "pred_scores", path, i, "predictions")
                                    .reshape(-1))
        parts["rel_pair_idx"].append(_field(pr, "rel_pair_idxs", path, i, "predictions")
                                     .reshape(-1, 2))
        parts["rel_scores"].append(scores)
        counts["gt_obj"].append(len(gb))
        counts["gt_rel"].append(len(rels))
        counts["pred_obj"].append(len(pb))
        counts["rel"].append(len(scores))
    if num_predicates is None:
        raise PredictionsFormatError(f"{path}: no image has relation scores")
    P1 = num_predicates + 1
    parts["rel_scores"] = [s.reshape(-1, P1) for s in parts["rel_scores"]]
    out = {k: (np.concatenate(v) if v else np.zeros((0,))) for k, v in parts.items()}
    for key, name in (("gt_obj_ptr", "gt_obj"), ("gt_rel_ptr", "gt_rel"),
                      ("pred_obj_ptr", "pred_obj"), ("rel_ptr", "rel")):
        out[key] = np.concatenate([[0], np.cumsum(counts[name])]).astype(np.int64)
    out["num_predicates"] = np.asarray(num_predicates)
    return out


def main(argv=None) -> int:
    import argparse

    from .interchange import validate_predictions, write_predictions
    p = argparse.ArgumentParser(description="SGB eval_results.pytorch -> predictions .npz")
    p.add_argument("results", help="SGB's eval_results.pytorch")
    p.add_argument("out", help="the interchange .npz to write")
    p.add_argument("--mode", choices=("predcls", "sgcls", "sgdet"), default="sgdet")
    a = p.parse_args(argv)
    try:
        data = validate_predictions(read_sgb_results(a.results), a.mode, source=a.results,
                                    require_content=True)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_predictions(a.out, data)
    print(f"{len(data['gt_obj_ptr']) - 1} images written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
