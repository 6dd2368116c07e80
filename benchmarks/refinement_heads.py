"""Mask AP of Seg-SG's refinement head and seed 002's two variants on SynthCOCO val.

Each head is trained alone on SynthCOCO train (the frozen detector's FPN maps and COCO mask
logits of the GT boxes; ``--images`` images per step, Adam) and scored on SynthCOCO val by
the same code as ``test_results.json``'s ``mask_ap`` (each object's mask of its class pasted
into its box, binarised at 0.5, pycocotools' COCOeval ``segm``):

* ``per_pixel``: the authors' head, per-pixel BCE, residual on the frozen logits;
* ``disc``: the same head with 8-d per-pixel embeddings trained with the discriminative loss
  over the instances inside each box (De Brabandere et al.), added to the BCE;
* ``polar``: PolarMask's contour (36 rays from the mass centre, the frozen mask's contour as
  its start), masks assembled from the rays, Polar IoU loss.

The context input of the head, which in a scene-graph run is the context encoder's node
states, is here the detector's own box-head features of each object (a frozen copy of the
relation model's box extractor at initialisation): the three heads are compared on the same
inputs without training a relation model (a seg-grounded SGG step costs seconds on a CPU).
Every head starts from the frozen masks, so ``frozen`` is the baseline each one refines::

    python benchmarks/refinement_heads.py --heads per_pixel disc polar --seeds 0 1 2
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyg_sgg.config import get_cfg  # noqa: E402
from pyg_sgg.data.loader import collate_scene_graphs  # noqa: E402
from pyg_sgg.engine.pipeline import build_detector, build_segmentation_samples  # noqa: E402
from pyg_sgg.engine.segmentation_eval import refined_mask_ap  # noqa: E402
from pyg_sgg.models.scene_graph_model import SceneGraphModel  # noqa: E402
from pyg_sgg.nn.segmentation_refinement import (SegmentationRefinement,  # noqa: E402
                                                refinement_losses)

VARIANTS = {"per_pixel": {}, "disc": {"embedding_dim": 8}, "polar": {"head": "polar"}}


class HeadOnly(torch.nn.Module):
    """A refinement head whose context is the detector's box features (frozen)."""

    def __init__(self, head: SegmentationRefinement, box_extractor):
        super().__init__()
        self.refinement, self.box = head, box_extractor.requires_grad_(False).eval()

    def inputs(self, batch):
        graph = batch.batch
        boxes = SceneGraphModel.map_boxes(batch, batch.boxes, graph)
        with torch.no_grad():
            ctx = self.box(batch.feature_maps, boxes, graph)
        return ctx, batch.feature_maps, boxes, graph, batch.mask_logits

    def refined_mask_logits(self, batch):
        return self.refinement(*self.inputs(batch), labels=batch.labels)

    def loss(self, batch):
        losses = refinement_losses(self.refinement, self.inputs(batch), batch.labels,
                                   batch.mask_targets, batch.get("instance_targets"))
        return sum(losses.values())


def run(cfg, detector, variant: str, seed: int, a):
    torch.manual_seed(seed)
    box, _ = detector.relation_feature_extractors()
    head = SegmentationRefinement(
        box.out_channels, detector.map_channels, a.coco_classes, detector.map_scales,
        hidden_channels=a.hidden, num_conv=4, sampling_ratio=detector.pooler_sampling_ratio,
        **VARIANTS[variant])
    model = HeadOnly(head, box)
    train = build_segmentation_samples(cfg, detector, model, "train")
    val = build_segmentation_samples(cfg, detector, model, "val")
    opt = torch.optim.Adam(head.parameters(), lr=a.lr)
    g = torch.Generator().manual_seed(seed)
    t = time.perf_counter()
    head.train()
    for it in range(a.iters):
        idx = torch.randint(len(train), (a.images,), generator=g).tolist()
        batch = collate_scene_graphs([train[i] for i in idx])
        loss = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t
    ap = refined_mask_ap(model, val, collate_scene_graphs)
    return ap, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--heads", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--images", type=int, default=4, help="COCO images per step (the SGG "
                   "runs' SOLVER.IMS_PER_BATCH 8 // SEG.DATA_DIVISOR 2)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", help="also write every run's APs here")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config KEY VALUE overrides")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    record, rows = {}, []
    for variant in a.heads:
        per_seed = []
        for seed in a.seeds:
            cfg = get_cfg()
            cfg.merge_from_list(["SEED", str(seed)] + list(a.opts))
            detector = build_detector(cfg)
            a.coco_classes = detector.num_mask_classes
            ap, seconds = run(cfg, detector, variant, seed, a)
            record[f"{variant}_{seed}"] = {**ap, "seconds": seconds}
            per_seed.append(ap)
            print(f"{variant} seed {seed}: frozen AP {ap['frozen/AP']:.1f} / AP50 "
                  f"{ap['frozen/AP50']:.1f}, refined AP {ap['refined/AP']:.1f} / AP50 "
                  f"{ap['refined/AP50']:.1f} ({seconds:.0f} s)", flush=True)

        def cell(key):
            v = [r[key] for r in per_seed]
            return f"{np.mean(v):.1f} ± {np.std(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}"
        rows.append(f"| {variant} | {cell('frozen/AP')} | {cell('frozen/AP50')} | "
                    f"{cell('refined/AP')} | {cell('refined/AP50')} | {cell('refined/AP75')} |")
    print("\n| head | frozen AP | frozen AP50 | refined AP | refined AP50 | refined AP75 |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
