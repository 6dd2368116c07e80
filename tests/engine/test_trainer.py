import json
import math

import pytest
import torch

from ._engine_toy import ToyMethod, build, toy_cfg
from pyg_sgg.config import get_cfg
from pyg_sgg.engine.solver import (WarmupMultiStepLR, WarmupReduceLROnPlateau,
                                   build_optimizer, clip_gradients)
from pyg_sgg.methods.base import Stage


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def test_warmup_multistep():
    s = WarmupMultiStepLR(_opt(), [4, 6], gamma=0.1, warmup_iters=2, warmup_factor=0.5)
    lrs = [s.get_last_lr()[0]]
    for _ in range(7):
        s.step()
        lrs.append(s.get_last_lr()[0])
    assert lrs == pytest.approx([0.5, 0.75, 1, 1, 0.1, 0.1, 0.01, 0.01])


def test_plateau_decays_after_patience_and_caps():
    opt = _opt()
    s = WarmupReduceLROnPlateau(opt, gamma=0.1, patience=1, max_decays=2)
    for v in (0.5, 0.6, 0.6):  # improving, then one bad evaluation: no decay yet
        s.observe(v)
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)
    s.observe(0.55)  # second bad one > patience: decay
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    for _ in range(10):
        s.observe(0.1)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)  # at most 2 decays
    s2 = WarmupReduceLROnPlateau(_opt())
    s2.load_state_dict(s.state_dict())
    assert s2.get_last_lr() == pytest.approx([0.01])


def test_optimizer_and_clipping_from_cfg():
    cfg = get_cfg()
    cfg.merge_from_list(["SOLVER.OPTIMIZER", "Adam", "SOLVER.CLIP_GRADIENTS.CLIP_VALUE", "0.5"])
    p = torch.nn.Parameter(torch.ones(4))
    assert isinstance(build_optimizer(cfg, [p]), torch.optim.Adam)
    p.grad = torch.full((4,), 10.0)
    assert clip_gradients(cfg, [p]) == pytest.approx(20.0)
    assert float(p.grad.norm()) == pytest.approx(0.5, rel=1e-4)
    cfg.merge_from_list(["SOLVER.OPTIMIZER", "Lion"])
    with pytest.raises(ValueError, match="SOLVER.OPTIMIZER"):
        build_optimizer(cfg, [p])


def test_train_writes_logs_config_best_and_events(tmp_path):
    cfg = toy_cfg(tmp_path, iters=8, eval_period=4, scheduler="WarmupReduceLROnPlateau")
    trainer = build(cfg, "extra")
    results = trainer.train()
    assert results["num_images"] == 7 and 0 <= results["acc"] <= 1
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.yaml", "metrics.json", "model_final.pth", "model_best.pth",
            "last_checkpoint"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    recs = [json.loads(ln) for ln in (tmp_path / "metrics.json").read_text().splitlines()]
    assert any("val/acc" in r for r in recs) and any("loss_energy" in r for r in recs)
    loaded = get_cfg()
    loaded.merge_from_file(str(tmp_path / "config.yaml"))
    assert loaded.SOLVER.MAX_ITER == 8 and loaded.OUTPUT_DIR == str(tmp_path)
    best = torch.load(tmp_path / "model_best.pth", weights_only=False)
    assert best["best"]["metric"] == "acc"
    final = torch.load(tmp_path / "model_final.pth", weights_only=False)
    assert set(final["optimizers"]) == {"model", "energy"}
    assert set(final["method_modules"]) == {"head"} and final["method"] == {"steps": 8}


def test_extra_optimizer_resumes_in_process(tmp_path):
    cfg = toy_cfg(tmp_path, iters=6, ckpt_period=3)
    cfg.SOLVER.MAX_ITER = 3
    t1 = build(cfg, "extra", dropout=0.0)
    t1.train()
    cfg2 = cfg.clone()
    cfg2.SOLVER.MAX_ITER = 6
    t2 = build(cfg2, "extra", dropout=0.0)
    t2.train(resume=True)
    assert t2.iter == 6 and t2.method.steps == 6
    ref = build(cfg2.clone(), "extra", dropout=0.0)
    ref.output_dir = tmp_path / "ref"
    ref.checkpointer.save_dir = ref.output_dir
    ref.train()
    for a, b in zip(ref.method.head.parameters(), t2.method.head.parameters()):
        assert torch.equal(a, b)
    sa = ref.optimizers["energy"].state_dict()["state"]
    sb = t2.optimizers["energy"].state_dict()["state"]
    assert all(torch.equal(sa[i]["momentum_buffer"], sb[i]["momentum_buffer"]) for i in sa)


def test_amp_bf16_on_cpu(tmp_path):
    """With SOLVER.AMP.ENABLED the forward runs in bfloat16 on the CPU (and not without)."""
    seen = {}
    for amp in (True, False):
        cfg = toy_cfg(tmp_path / str(amp), iters=3, amp=amp)
        trainer = build(cfg)
        dtypes = []
        hook = trainer.model.lin2.register_forward_hook(
            lambda mod, inp, out: dtypes.append(out.dtype))
        trainer.train()
        hook.remove()
        seen[amp] = set(dtypes)
        recs = [json.loads(ln) for ln in
                (tmp_path / str(amp) / "metrics.json").read_text().splitlines()]
        assert all(math.isfinite(r["total_loss"]) for r in recs if "total_loss" in r)
    assert trainer.amp_dtype == torch.bfloat16
    assert seen[True] == {torch.bfloat16} and seen[False] == {torch.float32}


def test_non_finite_loss_fails(tmp_path):
    class NaNMethod(ToyMethod):
        def loss(self, model, batch, outputs):
            return {"loss_cls": outputs.sum() * float("nan"), "loss_ok": outputs.sum() * 0}

    trainer = build(toy_cfg(tmp_path, iters=3))
    trainer.method = NaNMethod()
    with pytest.raises(FloatingPointError, match=r"iteration 0: non-finite loss \(loss_cls = "
                                                 r"nan\); SOLVER.NONFINITE skip .*; no "
                                                 r"checkpoint yet"):
        trainer.train()


class NaNAfter(ToyMethod):
    """A finite loss whose gradient is NaN from step ``start`` on, for ``count`` steps."""

    def __init__(self, start, count):
        self.start, self.count, self.step = start, count, 0

    def loss(self, model, batch, outputs):
        out = super().loss(model, batch, outputs)
        if self.start <= self.step < self.start + self.count:
            out["loss_sqrt"] = (outputs * 0).abs().sqrt().sum()  # 0, gradient inf * 0 = NaN
        self.step += 1
        return out


def test_non_finite_gradient_names_the_parameter_and_the_checkpoint(tmp_path):
    trainer = build(toy_cfg(tmp_path, iters=12, ckpt_period=5))
    trainer.method = NaNAfter(start=7, count=1)
    with pytest.raises(FloatingPointError) as e:
        trainer.train()
    msg = str(e.value)
    assert "iteration 7: non-finite gradient of " in msg and "\n" not in msg
    assert "last checkpoint" in msg and "model_0000005.pth" in msg and "--resume" in msg


def test_skip_mode_skips_the_steps_and_stops_after_too_many(tmp_path):
    cfg = toy_cfg(tmp_path / "a", iters=12)
    cfg.merge_from_list(["SOLVER.NONFINITE", "skip", "SOLVER.MAX_SKIPPED_STEPS", "3"])
    trainer = build(cfg)
    trainer.method = NaNAfter(start=4, count=2)
    trainer.train()
    assert trainer.skipped_steps == 2
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    cfg = toy_cfg(tmp_path / "b", iters=12)
    cfg.merge_from_list(["SOLVER.NONFINITE", "skip", "SOLVER.MAX_SKIPPED_STEPS", "3"])
    trainer = build(cfg)
    trainer.method = NaNAfter(start=4, count=100)
    with pytest.raises(FloatingPointError, match="4 steps in a row, SOLVER.MAX_SKIPPED_STEPS 3"):
        trainer.train()


class StagedMethod(ToyMethod):
    def __init__(self):
        self.calls = []

    def stages(self, max_iter):
        return [Stage("coarse", max_iter), Stage("fine", 2 * max_iter)]

    def on_stage_start(self, stage, model, trainer):
        self.calls.append(("start", stage.name, trainer.iter))

    def on_stage_end(self, stage, model, trainer):
        self.calls.append(("end", stage.name, trainer.iter))


def test_stages_run_in_order_and_resume_at_boundary(tmp_path):
    cfg = toy_cfg(tmp_path, iters=2, ckpt_period=100)
    t = build(cfg)
    t.method = StagedMethod()
    t.train()
    assert t.method.calls == [("start", "coarse", 0), ("end", "coarse", 2),
                              ("start", "fine", 2), ("end", "fine", 6)]
    assert t.iter == 6
    t2 = build(cfg)
    t2.method = StagedMethod()
    t2.train(resume=True)  # finished: only the last stage's set-up is replayed
    assert t2.iter == 6 and t2.method.calls == [("start", "fine", 6), ("end", "fine", 6)]
    # a checkpoint at the stage boundary resumes into the second stage's start
    t3 = build(cfg)
    t3.method = StagedMethod()
    t3.load_checkpoint(torch.load(tmp_path / "model_0000002.pth", weights_only=False))
    assert (t3.iter, t3.stage_index, t3.stage_iter) == (2, 1, 0)


def test_stage_dataset_hook(tmp_path):
    class Subset(StagedMethod):
        def stage_dataset(self, stage, dataset):
            return dataset[:5] if stage.name == "coarse" else dataset

    seen = []
    cfg = toy_cfg(tmp_path, iters=3, ckpt_period=100, batch=2)
    t = build(cfg, eval_set=False)
    t.method = Subset()
    orig = t.run_step
    t.run_step = lambda b: (seen.append(b.image_id.tolist()), orig(b))[1]
    t.train()
    coarse = {i for ids in seen[:3] for i in ids}
    assert coarse <= set(range(5)) and len(seen) == 9
