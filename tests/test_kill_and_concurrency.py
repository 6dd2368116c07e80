"""Whole-script reliability (slow: ``pytest -m slow``): a detector training SIGKILLed after a
checkpoint and resumed ends with the uninterrupted run's weights and APs; two ``train.py``
runs started together on a fresh cache build SynthVG and the detector once and agree."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
QUICK = "detectron_configs/quick_schedules/predcls_ce_instant.yaml"


def _env(cache):
    return dict(os.environ, PYG_SGG_CACHE=str(cache), OMP_NUM_THREADS="1")


def _detector_cmd(out, *extra):
    return [sys.executable, "train.py", "--task", "detector", *extra, "--config-file", QUICK,
            "DETECTOR.OUTPUT_DIR", str(out), "DETECTOR.SOLVER.MAX_ITER", "16",
            "DETECTOR.SOLVER.WARMUP_ITERS", "2", "DETECTOR.SOLVER.CHECKPOINT_PERIOD", "4",
            "DETECTOR.EVAL_AFTER_TRAIN", "True", "DETECTOR.NUM_THREADS", "1"]


@pytest.mark.slow
def test_sigkilled_detector_training_resumes_to_the_same_weights_and_ap(tmp_path):
    env = _env(tmp_path / "cache")
    ref = subprocess.run(_detector_cmd(tmp_path / "ref"), cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert ref.returncode == 0, ref.stderr[-3000:]
    run = tmp_path / "run"
    proc = subprocess.Popen(_detector_cmd(run), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and not (run / "model_0000008.pth").is_file():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # between the iteration-8 and -12 checkpoints
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model_final.pth").exists()
    again = subprocess.run(_detector_cmd(run, "--resume"), cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    a = torch.load(tmp_path / "ref" / "model_final.pth", weights_only=False)["model"]
    b = torch.load(run / "model_final.pth", weights_only=False)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ap_a = json.loads((tmp_path / "ref" / "test_results.json").read_text())
    ap_b = json.loads((run / "test_results.json").read_text())
    for k, v in ap_a.items():
        if "AP" in k:
            assert ap_b[k] == v, k


@pytest.mark.slow
def test_two_train_py_runs_on_a_fresh_cache_build_everything_once(tmp_path):
    env = _env(tmp_path / "cache")
    procs = [subprocess.Popen([sys.executable, "train.py", "--config-file", QUICK,
                               "OUTPUT_DIR", str(tmp_path / name)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    logs = []
    for p in procs:
        out, err = p.communicate(timeout=1200)
        assert p.returncode == 0, err[-3000:]
        logs.append(out + err)
    detectors = [d for d in (tmp_path / "cache" / "detectors").iterdir() if d.is_dir()]
    assert len(detectors) == 1 and (detectors[0] / "model_final.pth").is_file()
    assert sum("training the detector into" in log for log in logs) == 1  # one trained it
    ra = json.loads((tmp_path / "a" / "test_results.json").read_text())["metrics"]
    rb = json.loads((tmp_path / "b" / "test_results.json").read_text())["metrics"]
    assert ra == rb and 0 < ra["R@50"] <= 1


@pytest.mark.slow
def test_sigkilled_evaluation_never_leaves_a_partial_output(tmp_path):
    """``evaluate.py`` killed at random points: its metrics.json and plots are either absent
    or complete and equal to an uninterrupted run's; rerunning gives the same metrics."""
    import importlib.util

    import numpy as np
    spec = importlib.util.spec_from_file_location("eval_speed", ROOT / "benchmarks/eval_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    preds = tmp_path / "preds.npz"
    np.savez(preds, **bench.vg_sized_file(3000, 12, 115, "sgdet"))
    env = _env(tmp_path / "cache")

    def cmd(name):
        return [sys.executable, "evaluate.py", "--predictions", str(preds), "--mode", "sgdet",
                "--out", str(tmp_path / f"{name}.json"), "--plot", str(tmp_path / f"{name}.png")]
    t0 = time.time()
    ref = subprocess.run(cmd("ref"), cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert ref.returncode == 0, ref.stderr[-3000:]
    took = time.time() - t0
    expected = json.loads((tmp_path / "ref.json").read_text())
    rng = np.random.default_rng(0)
    for k in range(4):
        name = f"run{k}"
        proc = subprocess.Popen(cmd(name), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(float(rng.uniform(0.1, took)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        out = tmp_path / f"{name}.json"
        if out.exists():  # written before the kill: complete
            assert json.loads(out.read_text()) == expected
        png = tmp_path / f"{name}.png"
        if png.exists():
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
        again = subprocess.run(cmd(name), cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        assert json.loads(out.read_text()) == expected


@pytest.mark.slow
def test_the_main_pipeline_sigkilled_anywhere_and_rerun_ends_as_uninterrupted(tmp_path):
    """One command (SynthVG generation, detector training, FPN-map caches, relation training,
    evaluation) SIGKILLed at random moments, each time rerun with ``--resume`` on the same
    cache: the run that finishes reports the metrics of a run that was never interrupted."""
    import numpy as np

    def cmd(out):
        return [sys.executable, "train.py", "--config-file", QUICK, "--resume",
                "OUTPUT_DIR", str(out), "DETECTOR.NUM_THREADS", "1"]
    t0 = time.time()
    ref = subprocess.run(cmd(tmp_path / "ref"), cwd=ROOT, env=_env(tmp_path / "ref_cache"),
                         capture_output=True, text=True, timeout=900)
    assert ref.returncode == 0, ref.stderr[-3000:]
    took = time.time() - t0
    env, out = _env(tmp_path / "cache"), tmp_path / "run"
    rng = np.random.default_rng(0)
    killed = 0
    for attempt in range(6):
        proc = subprocess.Popen(cmd(out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=float(rng.uniform(0.15, 0.6)) * took)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            killed += 1
            continue
        assert proc.returncode == 0
        break
    else:
        final = subprocess.run(cmd(out), cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=900)
        assert final.returncode == 0, final.stderr[-3000:]
    assert killed >= 2
    a = json.loads((tmp_path / "ref" / "test_results.json").read_text())["metrics"]
    b = json.loads((out / "test_results.json").read_text())["metrics"]
    assert a == b
    leftovers = [p for p in (tmp_path / "cache").rglob(".tmp*")]
    assert leftovers == [], leftovers
