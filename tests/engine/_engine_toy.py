"""A tiny model, data set, methods and evaluator to test the trainer in seconds.

Run as a script (also under torchrun) for the kill/resume and multi-process tests::

    python tests/engine/_engine_toy.py --out DIR --iters 20 [--kill-at 9] [--resume]
"""
import argparse
import json
import os
import signal
import sys
from typing import NamedTuple

import torch
import torch.nn.functional as F

from pyg_sgg.config import get_cfg
from pyg_sgg.engine import distributed as du
from pyg_sgg.engine.trainer import Trainer, seed_all

NUM_CLASSES = 3


class ToyBatch:
    """A minimal PyG-like batch (no torch_geometric import: subprocesses start faster)."""

    def __init__(self, x, y, ptr, image_id):
        self.x, self.y, self.ptr, self.image_id = x, y, ptr, image_id

    def to(self, device):
        return ToyBatch(*(t.to(device) for t in (self.x, self.y, self.ptr, self.image_id)))


def collate(items):
    counts = torch.tensor([x.size(0) for x, _, _ in items])
    return ToyBatch(torch.cat([x for x, _, _ in items]), torch.cat([y for _, y, _ in items]),
                    torch.cat([counts.new_zeros(1), counts.cumsum(0)]),
                    torch.tensor([i for _, _, i in items]))


def toy_dataset(n: int = 24, nodes: int = 3, seed: int = 123):
    """``n`` items ``(x [nodes, 4], y [nodes], image_id)``."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        x = torch.randn(nodes, 4, generator=g)
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
        items.append((x, y, i))
    return items


class Stage(NamedTuple):
    name: str
    max_iter: int


class Method:
    """Duck-typed :class:`pyg_sgg.methods.base.Method` (its package imports every method)."""
    name = "base"

    def setup(self, model, trainer):
        pass

    def stages(self, max_iter):
        return [Stage("main", max_iter)]

    def on_stage_start(self, stage, model, trainer):
        pass

    def on_stage_end(self, stage, model, trainer):
        pass

    def after_backward(self, model):
        pass

    def after_step(self, model):
        pass

    def modules(self):
        return {}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class ToyModel(torch.nn.Module):
    def __init__(self, dropout: float = 0.2):
        super().__init__()
        self.lin1 = torch.nn.Linear(4, 8)
        self.drop = torch.nn.Dropout(dropout)
        self.lin2 = torch.nn.Linear(8, NUM_CLASSES)

    def forward(self, batch):
        return self.lin2(self.drop(torch.relu(self.lin1(batch.x))))

    @torch.no_grad()
    def predict(self, batch):
        logits = self(batch)
        return {"gt_obj_ptr": batch.ptr, "gt_labels": batch.y, "pred_obj_ptr": batch.ptr,
                "pred_labels": logits.argmax(-1), "image_ids": batch.image_id,
                "num_predicates": NUM_CLASSES}


class ToyMethod(Method):
    name = "toy"

    def loss(self, model, batch, outputs):
        return {"loss_cls": F.cross_entropy(outputs, batch.y)}


class ExtraOptimizerMethod(ToyMethod):
    """Like EBM: an extra module with its own optimiser, and a stateful counter."""
    name = "extra"

    def __init__(self):
        self.head = torch.nn.Linear(NUM_CLASSES, 1)
        self.steps = 0

    def setup(self, model, trainer):
        trainer.add_optimizer("energy", None, self.head.parameters())

    def loss(self, model, batch, outputs):
        out = super().loss(model, batch, outputs)
        out["loss_energy"] = 0.1 * self.head(outputs.softmax(-1)).pow(2).mean()
        return out

    def after_step(self, model):
        self.steps += 1

    def modules(self):
        return {"head": self.head}

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


class KillAt:
    """Wraps a method and sends ``sig`` to this process after ``at`` optimiser steps."""

    def __init__(self, inner, at, sig=signal.SIGKILL):
        self.inner, self.at, self.count, self.sig = inner, at, 0, sig
        self.name = inner.name

    def __getattr__(self, name):  # delegate every hook
        return getattr(self.__dict__["inner"], name)

    def after_step(self, model):
        self.inner.after_step(model)
        self.count += 1
        if self.count == self.at:
            os.kill(os.getpid(), self.sig)


class ToyEvaluator:
    def reset(self):
        self.chunks = []

    def process(self, preds):
        self.chunks.append(preds)

    def evaluate(self):
        ids = [int(i) for c in self.chunks for i in c["image_ids"]]
        correct = sum(int((c["pred_labels"] == c["gt_labels"]).sum()) for c in self.chunks)
        total = sum(len(c["gt_labels"]) for c in self.chunks)
        return {"acc": correct / max(total, 1), "num_images": len(ids),
                "ids": {"sum": sum(ids), "unique": len(set(ids))}}


def toy_cfg(out, iters=20, batch=4, ckpt_period=5, eval_period=0, lr=0.1, amp=False,
            scheduler="WarmupMultiStepLR", optimizer="SGD"):
    cfg = get_cfg(extensions=False)
    cfg.merge_from_list([
        "OUTPUT_DIR", str(out), "MODEL.DEVICE", "cpu", "SEED", "7",
        "SOLVER.MAX_ITER", str(iters), "SOLVER.IMS_PER_BATCH", str(batch),
        "SOLVER.BASE_LR", str(lr), "SOLVER.STEPS", f"({iters // 2},)",
        "SOLVER.WARMUP_ITERS", "3", "SOLVER.CHECKPOINT_PERIOD", str(ckpt_period),
        "SOLVER.LOG_PERIOD", "2", "SOLVER.CLIP_GRADIENTS.CLIP_VALUE", "1.0",
        "SOLVER.LR_SCHEDULER_NAME", scheduler, "SOLVER.OPTIMIZER", optimizer,
        "SOLVER.AMP.ENABLED", str(amp), "TEST.EVAL_PERIOD", str(eval_period),
        "TEST.IMS_PER_BATCH", "4", "TEST.BEST_METRIC", "acc"])
    return cfg


class AddNoise:
    """A random batch transform (uses the global RNG, as pair sampling does)."""

    def __init__(self, scale=0.05):
        self.scale = scale

    def __call__(self, batch):
        if self.scale:
            batch.x = batch.x + self.scale * torch.randn_like(batch.x)
        return batch


def build(cfg, method="toy", dropout=0.2, kill_at=0, eval_set=True, noise=0.05,
          sig=signal.SIGKILL):
    seed_all(cfg.SEED)
    model = ToyModel(dropout)
    m = ExtraOptimizerMethod() if method == "extra" else ToyMethod()
    if kill_at:
        m = KillAt(m, kill_at, sig)
    return Trainer(cfg, model, m, toy_dataset(), val_set=toy_dataset(7, seed=5) if eval_set
                   else None, evaluator=ToyEvaluator(), batch_transform=AddNoise(noise),
                   collate_fn=collate)


def final_state(trainer):
    state = {f"model.{k}": v.clone() for k, v in trainer.model.state_dict().items()}
    for name, mod in trainer.method.modules().items():
        state.update({f"{name}.{k}": v.clone() for k, v in mod.state_dict().items()})
    return state


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--kill-at", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--signal", default="SIGKILL", help="what --kill-at sends")
    p.add_argument("--method", default="toy")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--noise", type=float, default=0.05)
    p.add_argument("--eval-period", type=int, default=0)
    p.add_argument("--scheduler", default="WarmupMultiStepLR")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    du.init_distributed("gloo")
    cfg = toy_cfg(args.out, args.iters, args.batch, eval_period=args.eval_period,
                  scheduler=args.scheduler)
    trainer = build(cfg, args.method, args.dropout, args.kill_at, noise=args.noise,
                    sig=getattr(signal, args.signal))
    try:
        results = trainer.train(resume=args.resume)
    except KeyboardInterrupt as e:
        print(f"interrupted: {e}", file=sys.stderr)
        return 130
    if du.is_main_process():
        torch.save(final_state(trainer), os.path.join(args.out, "final_state.pt"))
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump({"results": results, "world_size": du.get_world_size(),
                       "steps": getattr(trainer.method, "steps", None)}, f)
    if du.is_dist():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
