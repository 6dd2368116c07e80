"""EBM under DDP: the trainer alone averages the energy model's gradients."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from pyg_sgg.engine.distributed import find_free_port

RUN = str(Path(__file__).with_name("_ebm_ddp.py"))


def test_two_gloo_processes_train_the_energy_model_as_one(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for cmd in (
        [sys.executable, RUN, "--out", str(tmp_path / "one")],
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(find_free_port()), RUN, "--out", str(tmp_path / "two")])]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    a = torch.load(tmp_path / "one" / "energy_model.pt")
    b = torch.load(tmp_path / "two" / "energy_model.pt")
    assert set(a) == set(b) and len(a) > 10
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    # and both trained it: its weights moved away from the (seeded, shared) initialisation
    start = torch.load(tmp_path / "one" / "energy_model_init.pt")
    assert any(not torch.allclose(a[k], start[k]) for k in a)


def test_ebm_after_backward_makes_no_collective_call(monkeypatch):
    """Pins the old defect: EBM all-reduced the gradients the trainer had averaged."""
    from tests.methods.test_ebm import C, D, P, make_method
    method = make_method(IMG_DIM=D, NUM_OBJ_CLASSES=C + 1, NUM_PREDICATES=P + 1)
    for p in method.energy_model.parameters():
        p.grad = torch.ones_like(p)
    calls = []
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *a: 2)
    monkeypatch.setattr(torch.distributed, "all_reduce", lambda *a, **k: calls.append(a))
    method.after_backward(None)
    assert calls == []
