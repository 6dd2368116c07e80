"""pyg_sgg's EBM training step against the EBM authors' own modules on the same batch.

One PredCls energy step: a 20-step SGLD chain from the base model's relation logits, the
energies of the sampled and the ground-truth graph, the contrastive-divergence loss and its
backward (to the energy model and the logits), for ``--images`` images x ``--objects``
objects with every ordered pair a candidate. The authors' ``GraphEnergyModel`` / ``SGLD`` /
``ContrastiveDivergence`` (mods333/energy-based-scene-graph) are read, unmodified, from a
local copy of their ``energy_head`` folder given on the command line — never committed
(``tests/golden/make_ebm_golden.py`` says how to get it and stands in for the
maskrcnn_benchmark imports they make). Each (implementation, size) runs in a fresh process:
the memory printed is the step's peak RSS above the process's RSS just before its first
step (model, batch and imports excluded); the time is the minimum over ``--repeat`` steps::

    git --git-dir /path/to/energy-based-scene-graph.git archive HEAD \\
        maskrcnn_benchmark/modeling/energy_head | tar -x -C /tmp/ebm
    python benchmarks/ebm_vs_authors.py /tmp/ebm/maskrcnn_benchmark/modeling/energy_head \\
        --images 4 16 --objects 20 --hidden 512 --feat-dim 4096 --threads 1
"""
import argparse
import gc
import importlib.util
import json
import resource
import subprocess
import sys
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def _positives(batch, P):
    """``[E, P]`` one-hot ground-truth predicate of each candidate pair (0: background)."""
    n = int(batch.num_nodes)
    key = batch.edge_index[0] * n + batch.edge_index[1]
    label = torch.zeros(n * n, dtype=torch.long)
    label[batch.gt_rel_index[0] * n + batch.gt_rel_index[1]] = batch.gt_rel_label.long()
    return torch.nn.functional.one_hot(label[key], P).float()


def authors_step(args, energy_head: Path):
    from ebm_cost import make_batch
    from tests.golden.make_ebm_golden import _load, _stub_imports
    _stub_imports()
    mods = _load(energy_head)
    Graph, normalize = mods["graph"].Graph, mods["utils"].normalize_states
    loss_fn = _load_losses(energy_head)
    ns = types.SimpleNamespace
    C, P = args.classes, args.predicates
    cfg = ns(DATASETS=ns(NUM_OBJ_CLASSES=C, NUM_REL_CLASSES=P),
             MODEL=ns(ROI_RELATION_HEAD=ns(
                 USE_GT_BOX=True, USE_GT_OBJECT_LABEL=True,
                 EBM=ns(OBJ_EMBED_DIM=args.hidden, REL_EMBED_DIM=args.hidden,
                        POOLING_DIM=args.hidden))),
             SAMPLER=ns(LR=1.0, VAR=0.001, GRAD_CLIP=0.01, ITERS=args.steps),
             ENERGY_MODEL=ns(TEMP=1.0))
    model = mods["model_ebm"].GraphEnergyModel(cfg, args.feat_dim).train()
    sampler = mods["sampler"].SGLD(cfg)
    batch = make_batch(args.n_images, args.objects, args.feat_dim, C, P)
    pairs, nodes = batch.edge_index.t(), batch.batch
    edge_batch = nodes[pairs[:, 0]]
    obj = torch.nn.functional.one_hot(batch.labels, C).float()
    pos = torch.rand(nodes.numel(), 9, generator=torch.Generator().manual_seed(0))
    logits = torch.randn(pairs.size(0), P, requires_grad=True)
    gt_edges = _positives(batch, P)

    def step():
        im = Graph(batch.x, pairs, nodes)
        sg = Graph(obj, pairs, nodes, normalize(logits), edge_batch)
        sg = sampler.sample(model, im, sg, pos, "predcls")
        negative = model(im, sg, pos)
        positive = model(Graph(batch.x, pairs, nodes), Graph(obj, pairs, nodes, gt_edges,
                                                             edge_batch), pos)
        sum(loss_fn(cfg, positive, negative).values()).backward()
        model.zero_grad(set_to_none=True)
        logits.grad = None
    return pairs.size(0), step


def _load_losses(energy_head: Path):
    reg = sys.modules["maskrcnn_benchmark.modeling.registry"]
    if not hasattr(reg, "ENERGY_LOSS"):
        reg.ENERGY_LOSS = type(reg.SAMPLER)()
    spec = importlib.util.spec_from_file_location("ebm_authors_losses", energy_head / "losses.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ContrastiveDivergence


def ours_step(args):
    from ebm_cost import energy_step
    from pyg_sgg.methods.sgld import SGLD
    from pyg_sgg.nn import EnergyModel
    energy = EnergyModel(args.feat_dim, args.classes, args.predicates,
                         hidden_channels=args.hidden)
    ns = types.SimpleNamespace(classes=args.classes, predicates=args.predicates,
                               images=args.n_images, feat_dim=args.feat_dim)
    return energy_step(ns, torch.device("cpu"), energy, SGLD(num_steps=args.steps),
                       args.objects)


def child(args):
    """Time one implementation at one size; print a JSON line."""
    torch.manual_seed(0)
    E, step = (authors_step(args, Path(args.energy_head)) if args.impl == "authors"
               else ours_step(args))
    gc.collect()
    before = _current_rss_mib()
    step()  # warm-up (and the memory peak)
    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"edges": E, "seconds": best, "peak_mib": rss - before}))


def _current_rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("energy_head", help="the authors' energy_head folder (a local copy)")
    p.add_argument("--images", type=int, nargs="+", default=[4, 16])
    p.add_argument("--objects", type=int, default=20)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--feat-dim", type=int, default=4096)
    p.add_argument("--classes", type=int, default=151, help="C + 1")
    p.add_argument("--predicates", type=int, default=51, help="P + 1")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--impl", choices=["authors", "ours"], help=argparse.SUPPRESS)
    p.add_argument("--n-images", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.impl:
        return child(args)
    print(f"PredCls energy step (SGLD {args.steps} steps + CD loss + backward), width "
          f"{args.hidden}, features {args.feat_dim}, C + 1 = {args.classes}, P + 1 = "
          f"{args.predicates}, {args.threads} thread(s); min of {args.repeat}, fresh process each")
    print(f"{'images x objects':>17} {'edges':>6} {'authors s':>10} {'ours s':>8} {'speed-up':>9} "
          f"{'authors +MiB':>13} {'ours +MiB':>10} {'memory':>7}")
    for n in args.images:
        res = {}
        for impl in ("authors", "ours"):
            cmd = [sys.executable, __file__, args.energy_head, "--impl", impl, "--n-images",
                   str(n)] + [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in
                              ("objects", "hidden", "feat_dim", "classes", "predicates",
                               "steps", "repeat", "threads")]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{impl} at {n} images failed:\n{out.stderr[-2000:]}")
            res[impl] = json.loads(out.stdout.strip().splitlines()[-1])
        a, o = res["authors"], res["ours"]
        print(f"{f'{n} x {args.objects}':>17} {o['edges']:>6} {a['seconds']:>10.2f} "
              f"{o['seconds']:>8.2f} {a['seconds'] / o['seconds']:>8.1f}x "
              f"{a['peak_mib']:>13.0f} {o['peak_mib']:>10.0f} "
              f"{a['peak_mib'] / max(o['peak_mib'], 1):>6.1f}x", flush=True)


if __name__ == "__main__":
    main()
