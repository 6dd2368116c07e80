"""Speed of a PredCls training epoch with and without the detector feature cache.

    python benchmarks/feature_cache.py                    # SynthVG train, first 200 images
    python benchmarks/feature_cache.py --num-images 500 --weights model_final.pth

Without the cache every item runs the frozen detector (backbone, RoI and union-box pooling);
with it, items are slices of memory-mapped arrays. The relation model is a small MLP over
``[x_subj, x_obj, edge_attr]`` so that the epoch time is dominated by getting the features.
Prints both epoch times and the speed-up (target >= 5x). The cache is built in a temporary
folder (its one-off build time is printed too) and deleted afterwards.
"""
import argparse
import tempfile
import time

import torch
from torch_geometric.data import Batch


class PairMLP(torch.nn.Module):
    def __init__(self, d, d_pair, num_predicates):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2 * d + d_pair, 256), torch.nn.ReLU(),
                                       torch.nn.Linear(256, num_predicates + 1))

    def forward(self, batch):
        s, o = batch.edge_index
        return self.net(torch.cat([batch.x[s], batch.x[o], batch.edge_attr], 1))


def run_epoch(dataset, model, opt, batch_size):
    from pyg_sgg.data.scene_graph import pair_labels
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                         collate_fn=Batch.from_data_list,
                                         generator=torch.Generator().manual_seed(0))
    t = time.perf_counter()
    for batch in loader:
        target = pair_labels(batch.edge_index, batch.gt_rel_index, batch.gt_rel_label,
                             batch.num_nodes)
        loss = torch.nn.functional.cross_entropy(model(batch), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="VG-format folder (default: SynthVG)")
    ap.add_argument("--num-images", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default="", help="detector checkpoint (default: random init; "
                    "the speed does not depend on the weights)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from pyg_sgg.config import get_cfg
    from pyg_sgg.data.vg import VGDataset
    from pyg_sgg.detection.build import build_detector_model
    from pyg_sgg.detection.features import DetectorFeatureDataset
    from pyg_sgg.detection.torchvision_backend import TorchvisionDetector

    ds = VGDataset(args.root, "train", num_val_images=0, num_images=args.num_images)
    cfg = get_cfg()
    cfg.MODEL.MASK_ON = False
    model = build_detector_model(cfg, ds.num_object_classes)
    if args.weights:
        state = torch.load(args.weights, map_location="cpu", weights_only=False)
        model.load_state_dict(state.get("model", state), strict=False)
    det = TorchvisionDetector(model)

    rel = PairMLP(det.feature_dim, det.pair_feature_dim, ds.num_predicates)
    opt = torch.optim.SGD(rel.parameters(), lr=0.01)
    live = DetectorFeatureDataset(ds, det, "predcls", cache=False)
    t_live = run_epoch(live, rel, opt, args.batch_size)
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        cached = DetectorFeatureDataset(ds, det, "predcls", cache=True, root=root,
                                        progress=False)
        t_build = time.perf_counter() - t
        t_cached = run_epoch(cached, rel, opt, args.batch_size)
    print(f"PredCls epoch over {len(ds)} images (batch {args.batch_size}, "
          f"{args.threads} threads):")
    print(f"  without cache: {t_live:8.2f} s")
    print(f"  with cache:    {t_cached:8.2f} s   (one-off cache build {t_build:.2f} s)")
    print(f"  speed-up:      {t_live / t_cached:8.1f}x")


if __name__ == "__main__":
    main()
