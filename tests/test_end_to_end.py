"""End to end through the scripts on a quick schedule (slow: ``pytest -m slow``):
``train.py`` (SynthVG, detector, features, relation model), ``evaluate.py`` on the written
predictions and on the checkpoint."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, env):
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("config", ["predcls_ce_instant", "sgdet_ebm_instant"])
def test_quick_schedule_trains_and_evaluates(config, tmp_path):
    env = dict(os.environ, PYG_SGG_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="2")
    run = tmp_path / "run"
    cfg = f"detectron_configs/quick_schedules/{config}.yaml"
    _run(["train.py", "--config-file", cfg, "OUTPUT_DIR", str(run)], env)
    results = json.loads((run / "test_results.json").read_text())
    if config.startswith("predcls"):
        assert 0.0 < results["metrics"]["R@50"] <= 1.0
    # (the 10-iteration detector of sgdet_*_instant detects nothing: every metric is None,
    # no image has a scored pair; the run must still go through)
    assert (run / "model_final.pth").is_file() and (run / "metrics.json").is_file()
    mode = "sgdet" if config.startswith("sgdet") else "predcls"
    scored = tmp_path / "scored.json"
    _run(["evaluate.py", "--predictions", str(run / "predictions_test.npz"), "--mode", mode,
          "--out", str(scored)], env)
    again = json.loads(scored.read_text())
    assert again["metrics"] == pytest.approx(results["metrics"], abs=1e-9, nan_ok=True)
    out = _run(["evaluate.py", "--checkpoint", str(run / "model_final.pth"),
                "--output", str(tmp_path / "re.npz")], env)
    assert "R@50" in out.stdout and (tmp_path / "re.npz").is_file()


def _tiny_glove(root: Path, out: Path) -> Path:
    """A GloVe-format file with a (seeded, random) vector for every word of the dataset's
    VG and COCO class names: segmentation grounding refuses to run without a word-vector
    file, and none can be downloaded here."""
    import numpy as np
    d = json.loads((root / "VG-SGG-dicts-with-attri.json").read_text())
    names = list(d["label_to_idx"]) + list(d["predicate_to_idx"])
    for f in root.rglob("*.json"):
        data = json.loads(f.read_text())
        if isinstance(data, dict) and "categories" in data:
            names += [c["name"] for c in data["categories"]]
    words = sorted({w for n in names for w in n.replace("_", " ").split()} | {"background"})
    rng = np.random.default_rng(0)
    out.write_text("".join(w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=50)) + "\n"
                           for w in words))
    return out


@pytest.mark.slow
def test_segmentation_grounding_with_refinement_trains_and_reports_mask_ap(tmp_path):
    env = dict(os.environ, PYG_SGG_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="2")
    cfg = "detectron_configs/quick_schedules/predcls_ce_instant.yaml"
    run = tmp_path / "run"
    # the dataset first (the GloVe file needs its names)
    _run(["-m", "pyg_sgg.data.synthvg", "--out", str(tmp_path / "vg"), "--num-images", "120"],
         env)
    glove = _tiny_glove(tmp_path / "vg", tmp_path / "glove.txt")
    _run(["train.py", "--config-file", cfg, "DATASETS.VG.ROOT", str(tmp_path / "vg"),
          "MODEL.SGG.SEG.ENABLED", "True", "MODEL.SGG.GLOVE_FILE", str(glove),
          "MODEL.SGG.SEG.REFINE_SEG_MASKS", "True",
          "SOLVER.MAX_ITER", "20", "OUTPUT_DIR", str(run)], env)
    results = json.loads((run / "test_results.json").read_text())
    assert 0.0 <= results["metrics"]["R@50"] <= 1.0
    ap = results["mask_ap"]
    assert {"frozen/AP", "refined/AP", "frozen/AP50", "refined/AP50"} <= set(ap)
    logs = [json.loads(ln) for ln in (run / "metrics.json").read_text().splitlines() if ln]
    assert any("loss_mask_segmentation" in r for r in logs)
    from pyg_sgg.evaluation.interchange import read_predictions
    from pyg_sgg.evaluation.object_masks import decode_object_masks
    preds = read_predictions(run / "predictions_test.npz", "predcls")
    assert preds["pred_masks"].shape == preds["pred_labels"].shape
    assert decode_object_masks(preds, 0).shape[1:] == tuple(preds["image_sizes"][0])
    # object grounding alone (the ablation rung), the detector from the same cache
    _run(["train.py", "--config-file", cfg, "DATASETS.VG.ROOT", str(tmp_path / "vg"),
          "MODEL.SGG.SEG.ENABLED", "True", "MODEL.SGG.GLOVE_FILE", str(glove),
          "MODEL.SGG.SEG.RELATION_GROUNDING", "False", "SOLVER.MAX_ITER", "5",
          "OUTPUT_DIR", str(tmp_path / "run_objects")], env)
    assert (tmp_path / "run_objects" / "test_results.json").is_file()
