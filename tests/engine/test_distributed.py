"""2 gloo processes with global batch B == 1 process with batch B; evaluation gathers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from pyg_sgg.engine.distributed import find_free_port

TOY = str(Path(__file__).with_name("_engine_toy.py"))


def test_two_processes_match_one(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    common = ["--iters", "4", "--batch", "4", "--dropout", "0", "--noise", "0",
              "--method", "extra", "--eval-period", "2"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for cmd in (
        [sys.executable, TOY, "--out", str(tmp_path / "one"), *common],
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(find_free_port()), TOY, "--out", str(tmp_path / "two"), *common])]
    for proc in procs:  # both at once
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    a = torch.load(tmp_path / "one" / "final_state.pt")
    b = torch.load(tmp_path / "two" / "final_state.pt")
    assert any(k.startswith("head.") for k in a)  # the extra optimiser's module agrees too
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    ra = json.loads((tmp_path / "one" / "results.json").read_text())
    rb = json.loads((tmp_path / "two" / "results.json").read_text())
    assert (ra["world_size"], rb["world_size"]) == (1, 2)
    # rank 0 scored the predictions of both ranks: all 7 validation images, each once
    assert rb["results"]["num_images"] == 7 and rb["results"]["ids/unique"] == 7
    assert rb["results"]["ids/sum"] == sum(range(7))
    assert abs(ra["results"]["acc"] - rb["results"]["acc"]) < 1e-9
