"""A run SIGKILLed mid-training and resumed ends bit-identical to an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch

TOY = str(Path(__file__).with_name("_engine_toy.py"))


def _start(out, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, TOY, "--out", str(out), "--iters", "23",
                             "--method", "extra", "--eval-period", "6", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait(proc):
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_sigkill_and_resume_is_bit_identical(tmp_path):
    ref = _start(tmp_path / "ref")  # both run at once
    killed = _start(tmp_path / "run", "--kill-at", "13")  # checkpoints at 5, 10: loses 3 its
    rc, err = _wait(killed)
    assert rc == -signal.SIGKILL, err
    assert not (tmp_path / "run" / "final_state.pt").exists()
    assert (tmp_path / "run" / "last_checkpoint").read_text() == "model_0000010.pth"
    # SIGTERM (pre-emption): stops after the iteration with a checkpoint, loses nothing
    termed = _start(tmp_path / "term", "--kill-at", "13", "--signal", "SIGTERM")
    rc, err = _wait(termed)
    assert rc == 130 and "iteration 13" in err, err
    assert (tmp_path / "term" / "last_checkpoint").read_text() == "model_0000013.pth"
    resumed_term = _start(tmp_path / "term", "--resume")
    resumed = _start(tmp_path / "run", "--resume")
    for proc in (ref, resumed, resumed_term):
        rc, err = _wait(proc)
        assert rc == 0, err

    a = torch.load(tmp_path / "ref" / "final_state.pt")
    for run in ("run", "term"):
        b = torch.load(tmp_path / run / "final_state.pt")
        assert a.keys() == b.keys() and any(k.startswith("head.") for k in a)
        for k in a:
            assert torch.equal(a[k], b[k]), (run, k)
    ra = json.loads((tmp_path / "ref" / "results.json").read_text())
    rb = json.loads((tmp_path / "run" / "results.json").read_text())
    assert ra == rb and ra["steps"] == 23  # the extra method's state survived too
    # the extra optimiser and schedules were restored: final checkpoints agree
    ca = torch.load(tmp_path / "ref" / "model_final.pth", weights_only=False)
    cb = torch.load(tmp_path / "run" / "model_final.pth", weights_only=False)
    for name in ("model", "energy"):
        sa, sb = ca["optimizers"][name]["state"], cb["optimizers"][name]["state"]
        assert sa.keys() == sb.keys()
        for i in sa:
            assert torch.equal(sa[i]["momentum_buffer"], sb[i]["momentum_buffer"])
    assert ca["schedulers"] == cb["schedulers"] and ca["best"] == cb["best"]
    # metrics.json has no duplicated iterations after resuming
    lines = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.json").read_text().split("\n")
             if ln]
    train_iters = [r["iteration"] for r in lines if "loss_cls" in r]
    assert train_iters == sorted(set(train_iters))
