"""The two feature modes (``MODEL.SGG.FEATURES``) side by side: cost of one CE and one EBM
training step of Motifs PredCls, and of getting the FPN maps (memory-mapped cache vs running
the frozen backbone), at SynthVG and at VG sizes; cache size on disk per 1,000 images.

* ``frozen``: the relation model reads cached box-head vectors (``x``, ``edge_attr``);
* ``trainable``: its own box and union extractors pool the FPN maps (SGB's model).

Each (size, mode, method) runs in a fresh process so its peak memory is its own. Random
weights and inputs (nothing is downloaded); the timing does not depend on the values::

    python benchmarks/feature_modes.py                # both sizes
    python benchmarks/feature_modes.py --sizes synthvg --repeat 5
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

SIZES = {
    # SynthVG: the embedded detector (SmallConvFPN, 64 channels, strides 8 / 16), 256 px
    # images, 7 objects (SynthVG averages 6.5), 8 images per step (the leaf configs)
    "synthvg": dict(image=(256, 256), objects=7, images=8, backbone="small_conv_fpn",
                    fc_dim=256),
    # VG150: R-50-FPN (256 channels, the box pooler's 4 levels), 600 x 1000 images,
    # 12 objects; 2 images per step keep a CPU run short (times are per image too)
    "vg": dict(image=(600, 1000), objects=12, images=2, backbone="resnet_fpn", fc_dim=1024),
}


def _detector(size):
    from pyg_sgg.config.defaults import get_cfg
    from pyg_sgg.detection.build import build_detector_model
    from pyg_sgg.detection.torchvision_backend import TorchvisionDetector
    cfg = get_cfg()
    s = SIZES[size]
    cfg.MODEL.BACKBONE.NAME = s["backbone"]
    cfg.MODEL.ROI_BOX_HEAD.FC_DIM = s["fc_dim"]
    cfg.MODEL.ROI_HEADS.NUM_CLASSES, cfg.MODEL.ROI_HEADS.MASK_NUM_CLASSES = 150, 0
    cfg.MODEL.MASK_ON = False
    if s["backbone"] == "resnet_fpn":
        cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TRAIN = (
            (600,), 600, 1000)
        cfg.INPUT.MAX_SIZE_TEST = 1000
        cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[32], [64], [128], [256], [512]]
        cfg.MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO = 2
    torch.manual_seed(0)
    return TorchvisionDetector(build_detector_model(cfg, 150, 0)), cfg


def _images(size, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = SIZES[size]["image"]
    return [torch.rand(3, h, w, generator=g) for _ in range(n)]


def _batch(size, detector, mode, seed=0):
    from pyg_sgg.data.loader import collate_scene_graphs
    from pyg_sgg.data.scene_graph import SceneGraph, all_pairs
    s = SIZES[size]
    g = torch.Generator().manual_seed(seed)
    h, w = s["image"]
    items = []
    for i, img in enumerate(_images(size, s["images"], seed)):
        n = s["objects"]
        xy = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.7, h * 0.7])
        wh = 16 + torch.rand(n, 2, generator=g) * torch.tensor([w * 0.3, h * 0.3])
        boxes = torch.cat([xy, xy + wh], 1)
        rel = torch.stack([torch.arange(n // 2), torch.arange(n // 2) + n // 2])
        kw = dict(edge_index=all_pairs(torch.tensor([n])),
                  det_logits=torch.randn(n, 151, generator=g))
        if mode == "frozen":
            f = detector.extract([img], [boxes])[0]
            kw.update(x=f.roi_features, edge_attr=f.pair_features)
        else:
            maps, resized = detector.feature_maps(img)
            kw.update(feature_maps=maps, map_image_size=torch.tensor([resized]))
        items.append(SceneGraph(boxes, torch.randint(1, 151, (n,), generator=g), (h, w), rel,
                                torch.randint(1, 51, (n // 2,), generator=g), image_id=i,
                                **kw))
    return collate_scene_graphs(items)


def child(size, mode, method, repeat):
    """One measurement in this process; prints a JSON line."""
    import numpy as np

    from pyg_sgg.engine.pipeline import build_model
    from pyg_sgg.methods import build_method
    torch.set_num_threads(2)
    detector, cfg = _detector(size)
    cfg.SGG.TASK, cfg.SGG.METHOD, cfg.MODEL.SGG.FEATURES = "predcls", method, mode
    cfg.EBM.IMG_DIM = detector.feature_dim
    stats = {"pred_dist": np.zeros((151, 151, 51), np.float32)}
    model = build_model(cfg, stats, detector).train()
    m = build_method(method, cfg, stats)
    m.setup(model, None)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    batch = model.prepare_batch(_batch(size, detector, mode), torch.Generator().manual_seed(0))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    own = getattr(m, "optimizer", None)  # EBM's energy-model optimiser

    def step():
        opt.zero_grad(set_to_none=True)
        if own is not None:
            own.zero_grad(set_to_none=True)
        out = model(batch)
        sum(m.loss(model, batch, out).values()).backward()
        opt.step()
        if own is not None:
            own.step()

    step()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"step_s": min(times), "peak_mib": rss1 / 1024,
                      "step_extra_mib": (rss1 - rss0) / 1024,
                      "pairs": int(batch.edge_index.size(1))}))


def maps_child(size, repeat):
    """Getting one image's maps: the memory-mapped cache vs the backbone; bytes on disk."""
    from pyg_sgg.detection.feature_maps import FeatureMapCache
    from pyg_sgg.detection.features import FeatureCache
    torch.set_num_threads(2)
    detector, _ = _detector(size)
    images = _images(size, 4, seed=1)

    class Images:  # the dataset interface the caches read
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            from pyg_sgg.data.scene_graph import SceneGraph
            n = SIZES[size]["objects"]
            h, w = SIZES[size]["image"]
            b = torch.tensor([[10., 10., w / 2, h / 2]]).repeat(n, 1) + torch.arange(n)[:, None]
            return SceneGraph(b, torch.ones(n, dtype=torch.long), (h, w), image_id=i)

        def load_image(self, i):
            return images[i]

    with tempfile.TemporaryDirectory() as root:
        maps = FeatureMapCache(detector, Images(), root=root, progress=False).build()
        vectors = FeatureCache(detector, Images(), root=root, progress=False).build()
        slim = FeatureCache(detector, Images(), root=root, progress=False, pairs=False).build()

        def size_of(path):
            return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())

        t_read, t_run = [], []
        for _ in range(repeat):
            for i in range(len(images)):
                t = time.perf_counter()
                [m.float() for m in maps[i][0]]
                t_read.append(time.perf_counter() - t)
                t = time.perf_counter()
                detector.feature_maps(images[i])
                t_run.append(time.perf_counter() - t)
        per_k = 1000 / len(images) / 2**20
        print(json.dumps({"read_s": min(t_read), "backbone_s": min(t_run),
                          "maps_mib_per_1k": size_of(maps.path) * per_k,
                          "vectors_mib_per_1k": size_of(vectors.path) * per_k,
                          "slim_vectors_mib_per_1k": size_of(slim.path) * per_k}))


def run(args, *extra):
    out = subprocess.run([sys.executable, __file__, *extra, "--repeat", str(args.repeat)],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--repeat", type=int, default=3, help="timed steps (minimum reported)")
    p.add_argument("--child", nargs=3, metavar=("SIZE", "MODE", "METHOD"),
                   help=argparse.SUPPRESS)
    p.add_argument("--maps-child", metavar="SIZE", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(*args.child, args.repeat)
    if args.maps_child:
        return maps_child(args.maps_child, args.repeat)
    print(f"Motifs PredCls training step (forward + backward + SGD), 2 threads, minimum of "
          f"{args.repeat}; peak = the process's peak RSS, extra = its growth during the steps")
    for size in args.sizes:
        s = SIZES[size]
        print(f"\n{size}: {s['images']} images of {s['image'][0]}x{s['image'][1]}, "
              f"{s['objects']} objects, {s['backbone']}, box head {s['fc_dim']}")
        print(f"  {'method':<6} {'frozen s/step':>14} {'trainable s/step':>17} {'ratio':>6} "
              f"{'frozen peak / extra MiB':>24} {'trainable peak / extra MiB':>27}")
        for method in ("ce", "ebm"):
            r = {mode: run(args, "--child", size, mode, method)
                 for mode in ("frozen", "trainable")}
            f, t = r["frozen"], r["trainable"]
            print(f"  {method:<6} {f['step_s']:14.3f} {t['step_s']:17.3f} "
                  f"{t['step_s'] / f['step_s']:5.2f}x "
                  f"{f['peak_mib']:14.0f} / {f['step_extra_mib']:<7.0f} "
                  f"{t['peak_mib']:17.0f} / {t['step_extra_mib']:<7.0f}")
        m = run(args, "--maps-child", size)
        print(f"  FPN maps of one image: cache read {m['read_s'] * 1e3:.1f} ms, backbone "
              f"{m['backbone_s'] * 1e3:.1f} ms ({m['backbone_s'] / m['read_s']:.0f}x)")
        print(f"  on disk per 1,000 images: maps {m['maps_mib_per_1k']:,.0f} MiB (float16); "
              f"vectors with all union boxes {m['vectors_mib_per_1k']:,.1f} MiB, without "
              f"(trainable mode) {m['slim_vectors_mib_per_1k']:,.1f} MiB")


if __name__ == "__main__":
    main()
