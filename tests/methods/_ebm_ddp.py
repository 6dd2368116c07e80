"""Train a tiny relation model with ``--method ebm`` through the real :class:`Trainer` and
save the energy model's weights (run as a script, also under torchrun, by test_ebm_ddp.py).

    python tests/methods/_ebm_ddp.py --out DIR [--iters 3] [--batch 4]

Every image has the same boxes (the energy model's BatchNorm then sees the same statistics
on half a batch as on the whole) and the same number of objects (per-process means average
to the global mean); all noise and dropout are off, all pairs are scored: one process on a
global batch of B images and two processes on B / 2 each must train the same weights.
"""
import argparse
import os
import sys

import torch

from pyg_sgg.config import get_cfg
from pyg_sgg.data.scene_graph import SceneGraph, add_candidate_pairs
from pyg_sgg.engine import distributed as du
from pyg_sgg.engine.trainer import Trainer, seed_all
from pyg_sgg.methods import build_method
from pyg_sgg.models.output import SGGOutput

C, P, D, N = 5, 4, 8, 4  # object classes, predicates (no background), width, objects


def dataset(n: int = 8, seed: int = 3):
    gen = torch.Generator().manual_seed(seed)
    boxes = torch.tensor([[0.0, 0, 20, 30], [10, 5, 40, 40], [30, 30, 60, 50], [5, 40, 25, 60]])
    rel = torch.tensor([[0, 1, 2], [1, 2, 3]])
    return [SceneGraph(boxes.clone(), torch.randint(1, C + 1, (N,), generator=gen), (64, 64),
                       rel, torch.randint(1, P + 1, (3,), generator=gen), image_id=i,
                       x=torch.randn(N, D, generator=gen)) for i in range(n)]


class TinyRelationModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.feat = torch.nn.Linear(D, D)
        self.rel = torch.nn.Linear(2 * D, P + 1)

    def forward(self, batch):
        h = self.feat(batch.x)
        # PredCls: fixed one-hot object logits (every parameter reaches the loss, as DDP
        # needs)
        obj_logits = torch.nn.functional.one_hot(batch.labels, C + 1).float() * 2000 - 1000
        rel_logits = self.rel(torch.cat([h[batch.edge_index[0]], h[batch.edge_index[1]]], 1))
        return SGGOutput(obj_logits, rel_logits, batch.labels, torch.ones_like(h[:, 0]),
                         node_features=h, extras={})


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--method", default="ebm")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    du.init_distributed("gloo")
    cfg = get_cfg()
    cfg.merge_from_list([
        "OUTPUT_DIR", args.out, "MODEL.DEVICE", "cpu", "SEED", "5", "SGG.METHOD", args.method,
        "SOLVER.MAX_ITER", str(args.iters), "SOLVER.IMS_PER_BATCH", str(args.batch),
        "SOLVER.OPTIMIZER", "SGD", "SOLVER.BASE_LR", "0.05", "SOLVER.WARMUP_ITERS", "0",
        "SOLVER.CHECKPOINT_PERIOD", "100", "TEST.EVAL_PERIOD", "0",
        "DATALOADER.SHUFFLE", "False",
        "EBM.HIDDEN_DIM", "16", "EBM.POS_DIM", "8", "EBM.SAMPLER.NUM_STEPS", "3",
        "EBM.SAMPLER.NOISE_STD", "0.0", "EBM.DATA_NOISE_STD", "0.0",
        # a per-process sum: its DDP average is 1 / world_size of the global sum
        "EBM.REG_WEIGHT", "0.0",
        "EBM.IMG_DIM", str(D), "EBM.NUM_OBJ_CLASSES", str(C + 1),
        "EBM.NUM_PREDICATES", str(P + 1)])
    seed_all(cfg.SEED - du.get_rank())  # the same initial weights on every process
    model = TinyRelationModel()
    method = build_method(args.method, cfg)
    trainer = Trainer(cfg, model, method, dataset(), batch_transform=add_candidate_pairs)
    if du.is_main_process():
        os.makedirs(args.out, exist_ok=True)
        torch.save({k: v.detach().clone() for k, v in method.energy_model.named_parameters()
                    if not isinstance(v, torch.nn.parameter.UninitializedParameter)},
                   os.path.join(args.out, "energy_model_init.pt"))
    trainer.train()
    if du.is_main_process():
        # parameters only: BatchNorm's running statistics stay per process, as under DDP
        torch.save({k: v.detach().clone() for k, v in method.energy_model.named_parameters()},
                   os.path.join(args.out, "energy_model.pt"))
    if du.is_dist():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
