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
