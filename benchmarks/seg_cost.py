"""Cost of segmentation grounding against the box-only trainable extractors: one CE training
step (forward, backward, SGD) of the same SceneGraphModel (Motifs, SGCls) on the same
synthetic batch, measured interleaved (minimum over repeats), plus the parameter counts.

    python benchmarks/seg_cost.py --threads 2                 # SynthVG sizes
    python benchmarks/seg_cost.py --sizes vg --repeat 2       # VG sizes (R-50-FPN, C = 150)
"""
import argparse
import time

import torch

from pyg_sgg.data.loader import collate_scene_graphs
from pyg_sgg.data.scene_graph import SceneGraph, all_pairs
from pyg_sgg.models import SceneGraphModel, context_options, sgg_task_loss
from pyg_sgg.nn import (BoxFeatureExtractor, SegmentationGrounding,
                        UnionFeatureExtractor)

SIZES = {  # FPN channels, representation, classes, COCO classes, images, objects, image size
    "synthvg": dict(fpn=64, rep=256, C=49, K=30, images=8, objects=7, hw=(160, 224)),
    "vg": dict(fpn=256, rep=1024, C=150, K=80, images=4, objects=12, hw=(600, 1000)),
}
SCALES = [1 / 4, 1 / 8, 1 / 16, 1 / 32]


def batch_of(s, P, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = s["hw"]
    graphs = []
    for i in range(s["images"]):
        n = s["objects"]
        lo = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
        boxes = torch.cat([lo, lo + 20 + torch.rand(n, 2, generator=g) * 100], 1)
        rel = all_pairs(torch.tensor([n]))[:, :n]
        d = SceneGraph(boxes, torch.randint(1, s["C"] + 1, (n,), generator=g), (h, w), rel,
                       torch.randint(1, P, (rel.size(1),), generator=g), image_id=i,
                       edge_index=all_pairs(torch.tensor([n])),
                       det_logits=torch.randn(n, s["C"] + 1, generator=g))
        d.feature_maps = [torch.randn(s["fpn"], int(h * sc), int(w * sc), generator=g)
                          for sc in SCALES]
        d.map_image_size = torch.tensor([[h, w]])
        d.mask_logits = torch.randn(n, s["K"], 28, 28, generator=g)
        graphs.append(d)
    return collate_scene_graphs(graphs)


def model_of(s, P, kind):
    torch.manual_seed(0)
    C1, rep = s["C"] + 1, s["rep"]
    kw = {}
    if kind == "box-only":
        kw = dict(box_extractor=BoxFeatureExtractor(s["fpn"], 7, SCALES, rep),
                  union_extractor=UnionFeatureExtractor(s["fpn"], 7, SCALES, rep))
    else:
        pool_to = 28 if kind == "seg (authors', 28x28 fc6)" else 7
        transfer = torch.softmax(torch.randn(s["C"], s["K"]), -1)
        kw = dict(grounding=SegmentationGrounding(transfer, s["fpn"], SCALES, rep, C1,
                                                  pool_to=pool_to))
    return SceneGraphModel.build(
        mode="sgcls", context="motifs", num_classes=C1, num_predicates=P, feature_dim=rep,
        pair_feature_dim=rep, pred_dist=torch.zeros(C1, C1, P),
        context_options=context_options("motifs", edge_channels=rep), **kw).train()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", choices=list(SIZES), default="synthvg")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    s, P = SIZES[a.sizes], 51 if a.sizes == "vg" else 23
    kinds = ["box-only", "seg (cheaper, 7x7 fc6)", "seg (authors', 28x28 fc6)"]
    models = {k: model_of(s, P, k) for k in kinds}
    opts = {k: torch.optim.SGD(m.parameters(), lr=1e-4) for k, m in models.items()}
    batch = batch_of(s, P)

    def step(k):
        b = models[k].prepare_batch(batch.clone(), torch.Generator().manual_seed(0))
        opts[k].zero_grad(set_to_none=True)
        sum(sgg_task_loss(b, models[k](b)).values()).backward()
        opts[k].step()

    best = {k: float("inf") for k in kinds}
    for k in kinds:
        step(k)
    for _ in range(a.repeat):
        for k in kinds:
            t = time.perf_counter()
            step(k)
            best[k] = min(best[k], time.perf_counter() - t)
    print(f"{a.sizes}: {s['images']} images x {s['objects']} objects, FPN {s['fpn']} ch, "
          f"C = {s['C']}, COCO K = {s['K']}; threads {torch.get_num_threads()}, min of "
          f"{a.repeat}")
    base = best["box-only"]
    for k in kinds:
        n = sum(p.numel() for p in models[k].parameters())
        print(f"{k:<28} {best[k] * 1e3:9.1f} ms/step  x{best[k] / base:5.2f}  "
              f"{n / 1e6:8.1f} M parameters")


if __name__ == "__main__":
    main()
