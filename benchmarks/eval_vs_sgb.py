"""``evaluate.py``'s whole command against Scene-Graph-Benchmark's evaluator on the same file.

For each mode a VG-sized predictions file is written (``eval_speed.py``'s generator: PredCls
12 objects / 115 scored pairs per image, SGDet 80 detections / 400 pairs), then, each in a
fresh process:

* pyg_sgg: ``python evaluate.py --predictions F --mode M --order file --out J`` (SGB scores
  the pairs in the order they come), wall time minus the interpreter's start-up
  (``python -c pass``);
* SGB: its unmodified per-image ``evaluate_relation_of_one_image`` with every evaluator its
  ``do_vg_evaluation`` registers (recall, no-graph-constraint, zero-shot both ways, pair
  accuracy, mean recall both ways), from reading the ``.npz`` to the mean recalls, its
  imports excluded. Its files are read from a local copy of SGB given with ``--sgb``, never
  committed; the imports they make that need compiled code or a dataset
  (``maskrcnn_benchmark.layers``'s NMS, ``maskrcnn_benchmark.data``) are stood in for.
  Without ``--sgb`` the per-image reference of ``tests/`` stands in for it.

Both must give the same R@K, ng-R@K and mR@K (K = 50, 100); the speed-up is printed per
mode::

    git --git-dir /path/to/Scene-Graph-Benchmark.pytorch.git archive HEAD maskrcnn_benchmark \\
        | tar -x -C /tmp/sgb --exclude '*.json'
    python benchmarks/eval_vs_sgb.py --sgb /tmp/sgb --images 5000
"""
import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from tests.golden.import_stubs import stub_module  # noqa: E402

MODES = (("predcls", 12, 115), ("sgdet", 80, 400))
CHECKED = ("R@50", "R@100", "ng-R@50", "ng-R@100", "mR@50", "mR@100")

# SGB's files the evaluator runs, by module name, relative to its repository root.
_SGB_FILES = (
    ("maskrcnn_benchmark.structures.bounding_box", "maskrcnn_benchmark/structures/bounding_box.py"),
    ("maskrcnn_benchmark.structures.boxlist_ops", "maskrcnn_benchmark/structures/boxlist_ops.py"),
    ("maskrcnn_benchmark.utils.miscellaneous", "maskrcnn_benchmark/utils/miscellaneous.py"),
    ("maskrcnn_benchmark.data.datasets.evaluation.vg.sgg_eval",
     "maskrcnn_benchmark/data/datasets/evaluation/vg/sgg_eval.py"),
    ("maskrcnn_benchmark.data.datasets.evaluation.vg.vg_eval",
     "maskrcnn_benchmark/data/datasets/evaluation/vg/vg_eval.py"),
)


def _package(name, **attrs):
    """A stand-in package ``name`` (its ``__init__`` not run), registered in ``sys.modules``."""
    return stub_module(name, __path__=[], **attrs)


def load_sgb_evaluator(sgb_root: Path):
    """SGB's ``vg_eval`` and ``sgg_eval`` modules, loaded from ``sgb_root`` with the
    packages above them (whose ``__init__`` files import the whole detector) stood in for."""
    from torchvision.ops import nms
    for name in ("maskrcnn_benchmark", "maskrcnn_benchmark.structures", "maskrcnn_benchmark.utils",
                 "maskrcnn_benchmark.data.datasets", "maskrcnn_benchmark.data.datasets.evaluation",
                 "maskrcnn_benchmark.data.datasets.evaluation.vg"):
        _package(name)
    _package("maskrcnn_benchmark.layers", nms=nms)
    _package("maskrcnn_benchmark.data", get_dataset_statistics=None)
    _package("maskrcnn_benchmark.utils.comm", is_main_process=lambda: True)
    for name, attrs in (("pycocotools.coco", {"COCO": None}),  # box AP only, not called
                        ("pycocotools.cocoeval", {"COCOeval": None}),
                        ("tqdm", {"tqdm": None}), ("scipy.linalg", {})):
        if importlib.util.find_spec(name.split(".")[0]) is None:
            _package(name.split(".")[0])
            _package(name, **attrs)
    loaded = {}
    for name, rel in _SGB_FILES:
        path = sgb_root / rel
        if not path.is_file():
            raise SystemExit(f"--sgb {sgb_root}: {rel} not found (a copy of SGB's repository)")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded[name.rsplit(".", 1)[-1]] = module
    return loaded


def sgb_evaluate(sgb_root: Path, path: Path, mode: str) -> dict:
    """``{"seconds", "R@K", "ng-R@K", "mR@K"}`` (K = 50, 100) of SGB's evaluator on the
    file (imports excluded)."""
    import torch
    mods = load_sgb_evaluator(sgb_root)
    BoxList, ev_mod = mods["bounding_box"].BoxList, mods["sgg_eval"]
    t = time.perf_counter()
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    P = int(d["num_predicates"])
    gt_ptr, gt_rel_ptr, rel_ptr = d["gt_obj_ptr"], d["gt_rel_ptr"], d["rel_ptr"]
    pred_ptr = d.get("pred_obj_ptr", gt_ptr)
    boxes = d.get("pred_boxes", d["gt_boxes"])
    labels = d.get("pred_labels", d["gt_labels"])
    scores = d.get("pred_scores", np.ones(len(d["gt_labels"]), np.float32))
    images = []
    for i in range(gt_ptr.size - 1):  # SGB's BoxLists, as its inference loop leaves them
        a, b, p, q = gt_ptr[i], gt_ptr[i + 1], pred_ptr[i], pred_ptr[i + 1]
        gt = BoxList(torch.from_numpy(d["gt_boxes"][a:b]), (1024, 1024), "xyxy")
        gt.add_field("labels", torch.from_numpy(d["gt_labels"][a:b]))
        gt.add_field("relation_tuple", torch.from_numpy(d["gt_rels"][gt_rel_ptr[i]:gt_rel_ptr[i + 1]]))
        pred = BoxList(torch.from_numpy(boxes[p:q]), (1024, 1024), "xyxy")
        pred.add_field("pred_labels", torch.from_numpy(labels[p:q]))
        pred.add_field("pred_scores", torch.from_numpy(scores[p:q]))
        pred.add_field("rel_pair_idxs", torch.from_numpy(d["rel_pair_idx"][rel_ptr[i]:rel_ptr[i + 1]]))
        pred.add_field("pred_rel_scores", torch.from_numpy(d["rel_scores"][rel_ptr[i]:rel_ptr[i + 1]]))
        images.append((gt, pred))
    result, evaluators = {}, {}
    names = ["__background__"] + [str(p) for p in range(1, P + 1)]
    for key, evaluator in (
            ("eval_recall", ev_mod.SGRecall(result)),
            ("eval_nog_recall", ev_mod.SGNoGraphConstraintRecall(result)),
            ("eval_zeroshot_recall", ev_mod.SGZeroShotRecall(result)),
            ("eval_ng_zeroshot_recall", ev_mod.SGNGZeroShotRecall(result)),
            ("eval_pair_accuracy", ev_mod.SGPairAccuracy(result)),
            ("eval_mean_recall", ev_mod.SGMeanRecall(result, P + 1, names, print_detail=True)),
            ("eval_ng_mean_recall", ev_mod.SGNGMeanRecall(result, P + 1, names,
                                                          print_detail=True))):
        evaluator.register_container(mode)
        evaluators[key] = evaluator
    container = {"zeroshot_triplet": d["train_triplets"], "result_dict": result, "mode": mode,
                 "multiple_preds": False, "num_rel_category": P + 1, "iou_thres": 0.5,
                 "attribute_on": False, "num_attributes": 1}
    for gt, pred in images:
        mods["vg_eval"].evaluate_relation_of_one_image(gt, pred, container, evaluators)
    evaluators["eval_mean_recall"].calculate_mean_recall(mode)
    evaluators["eval_ng_mean_recall"].calculate_mean_recall(mode)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, **{f"{name}@{k}": float(np.mean(result[mode + key][k]))
                                   for name, key in (("R", "_recall"), ("ng-R", "_recall_nogc"),
                                                     ("mR", "_mean_recall"))
                                   for k in (50, 100)}}


def reference_evaluate(path: Path, mode: str) -> dict:
    """The same of the per-image reference of ``tests/`` (file order)."""
    from pyg_sgg.evaluation import read_predictions
    from tests.evaluation.simple_reference import reference_metrics
    t = time.perf_counter()
    metrics = reference_metrics(read_predictions(path, mode), mode, order="file")
    return {"seconds": time.perf_counter() - t, **{k: metrics[k] for k in CHECKED}}


def _child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _wall(argv) -> float:
    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sgb", type=Path, help="a local copy of SGB's repository (its root)")
    p.add_argument("--images", type=int, default=5000)
    p.add_argument("--repeat", type=int, default=3, help="pyg_sgg runs per mode (the fastest)")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        which, path, mode = args.child
        out = (sgb_evaluate(Path(which), Path(path), mode) if which != "reference"
               else reference_evaluate(Path(path), mode))
        print(json.dumps(out))
        return
    from eval_speed import vg_sized_file
    from pyg_sgg.evaluation import write_predictions
    other = "SGB" if args.sgb else "per-image reference"
    startup = min(_wall([sys.executable, "-c", "pass"]) for _ in range(3))
    print(f"{args.images} images; interpreter start-up {startup:.3f} s (subtracted)")
    for mode, objects, pairs in MODES:
        with tempfile.TemporaryDirectory() as tmp:
            path = write_predictions(Path(tmp) / f"{mode}.npz",
                                     vg_sized_file(args.images, objects, pairs, mode))
            out = Path(tmp) / "metrics.json"
            ours = min(_wall([sys.executable, "evaluate.py", "--predictions", path, "--mode",
                              mode, "--order", "file", "--out", out])
                       for _ in range(args.repeat)) - startup
            metrics = json.loads(out.read_text())["metrics"]
            theirs = _child(args.sgb or "reference", path, mode)
        differ = [k for k in CHECKED if abs(theirs[k] - metrics[k]) > 1e-9]
        print(f"{mode:8} ({objects} objects, {pairs} pairs): {other} {theirs['seconds']:.2f} s, "
              f"evaluate.py {ours:.3f} s, x{theirs['seconds'] / ours:.1f}; R@100 "
              f"{metrics['R@100']:.6f}, mR@100 {metrics['mR@100']:.6f}; "
              + (f"DIFFERENT: {differ}" if differ else f"{', '.join(CHECKED)} identical"),
              flush=True)


if __name__ == "__main__":
    main()
