"""Cost of energy-based learning (``--method ebm``).

(a) one EBM training step / one CE training step, same SceneGraphModel, same batch;
(b) energy model + SGLD + loss/backward for ``--images`` images x n objects, all ordered
    pairs, n in ``--objects``: time, time per candidate edge and peak memory;
(c) the same step against the machine's matrix-product bound: every matrix product the step
    runs (sampler and energy loss, forward and backward) is recorded with its shapes, its
    FLOPs counted, and the recorded products replayed alone on fresh tensors: the step's
    time over the replay's is how far the step is from its matrix products (1.0 = nothing
    but them); a large square product gives the machine's peak rate for comparison.

Synthetic inputs (random boxes, features, relations); nothing is downloaded. Example::

    python benchmarks/ebm_cost.py --threads 1 --hidden 64   # CPU
    python benchmarks/ebm_cost.py --part c --threads 1 --objects 20 --hidden 128
    python benchmarks/ebm_cost.py --part c --threads 1 --objects 20 --hidden 512 --feat-dim 4096
    python benchmarks/ebm_cost.py --device cuda --hidden 512
"""
import argparse
import gc
import resource
import time

import torch
from torch.utils.flop_counter import FlopCounterMode
from torch_geometric.data import Batch

from pyg_sgg.data.scene_graph import SceneGraph, add_candidate_pairs
from pyg_sgg.methods.ebm import EBM
from pyg_sgg.methods.sgld import SGLD
from pyg_sgg.models import SceneGraphModel, context_options
from pyg_sgg.models.losses import sgg_task_loss
from pyg_sgg.models.output import SGGOutput
from pyg_sgg.nn import EnergyModel
from pyg_sgg.nn.context import CONTEXT_REGISTRY


def make_batch(num_images, num_objects, feat_dim, num_classes, num_predicates, seed=0):
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    n = num_objects
    for i in range(num_images):
        xy = torch.rand(n, 2, generator=gen) * 400
        boxes = torch.cat([xy, xy + 20 + torch.rand(n, 2, generator=gen) * 200], 1)
        m = max(n // 2, 1) if n > 1 else 0
        subj = torch.randint(0, n, (m,), generator=gen)
        obj = (subj + 1 + torch.randint(0, max(n - 1, 1), (m,), generator=gen)) % n
        rel = torch.stack([subj, obj])
        labels = torch.randint(1, num_classes, (n,), generator=gen)
        graphs.append(SceneGraph(
            boxes, labels, (600, 800), rel,
            torch.randint(1, num_predicates, (m,), generator=gen), image_id=i,
            x=torch.randn(n, feat_dim, generator=gen),
            det_logits=torch.randn(n, num_classes, generator=gen)))
    return add_candidate_pairs(Batch.from_data_list(graphs))


def peak_memory_mib(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process-wide peak


def timed(fn, device, repeat):
    """Minimum wall time over ``repeat`` calls (robust to other load on the machine)."""
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t)
    return min(times)


def part_a(args, device):
    C, P = args.classes, args.predicates
    context = args.context or "motifs"
    if context not in CONTEXT_REGISTRY:
        raise SystemExit(f"--context: {context!r} is not one of {CONTEXT_REGISTRY.names()}")
    model = SceneGraphModel.build(
        mode=args.task, context=context, num_classes=C, num_predicates=P,
        feature_dim=args.feat_dim, pair_feature_dim=args.feat_dim,
        context_options=context_options(context, edge_channels=args.feat_dim),
        pairs_per_image=args.pairs_per_image).to(device).train()
    batch = make_batch(args.images, args.a_objects, args.feat_dim, C, P)
    batch.edge_attr = torch.randn(batch.edge_index.size(1), args.feat_dim)
    batch = model.prepare_batch(batch, torch.Generator().manual_seed(0)).to(device)
    base_opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    energy = EnergyModel(args.feat_dim, C, P, hidden_channels=args.a_hidden).to(device)
    ebm = EBM(task=args.task, energy_model=energy,
              sampler=SGLD(num_steps=args.steps))
    ebm.setup(model, None)

    def ce_step():
        base_opt.zero_grad(set_to_none=True)
        out = model(batch)
        sum(sgg_task_loss(batch, out).values()).backward()
        base_opt.step()

    def ebm_step():
        base_opt.zero_grad(set_to_none=True)
        ebm.optimizer.zero_grad(set_to_none=True)
        out = model(batch)
        sum(ebm.loss(model, batch, out).values()).backward()
        ebm.after_backward(model)  # energy-model gradient-norm clip (authors: 5)
        base_opt.step()
        ebm.optimizer.step()

    ce_step(), ebm_step()  # warm-up
    t_ce, t_ebm = float("inf"), float("inf")
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        t_ce = min(t_ce, timed(ce_step, device, 1))
        t_ebm = min(t_ebm, timed(ebm_step, device, 1))
    print(f"(a) SceneGraphModel(context={context}, task={args.task}), {args.images} images x "
          f"{args.a_objects} objects, {batch.edge_index.size(1)} sampled pairs, features "
          f"{args.feat_dim}; energy model hidden {args.a_hidden}, SGLD {args.steps} steps")
    print(f"    (minimum over {args.repeat} interleaved runs)")
    print(f"    CE step {t_ce * 1e3:8.1f} ms | EBM step {t_ebm * 1e3:8.1f} ms | "
          f"ratio {t_ebm / t_ce:5.2f}x (target <= 1.5x)")


def energy_step(args, device, energy, sampler, n):
    """``(number of edges, step)``: one EBM energy-loss step (SGLD + loss + backward) for
    ``args.images`` images of ``n`` objects, all ordered pairs, PredCls."""
    C, P = args.classes, args.predicates
    batch = make_batch(args.images, n, args.feat_dim, C, P).to(device)
    logits = torch.randn(batch.edge_index.size(1), P, device=device, requires_grad=True)
    ebm = EBM(task="predcls", energy_model=energy, sampler=sampler)
    obj = torch.nn.functional.one_hot(batch.labels, C).float()

    def step():
        out = SGGOutput(obj, logits, batch.labels, obj[:, 0], node_features=batch.x)
        sum(ebm.loss(None, batch, out).values()).backward()
        energy.zero_grad(set_to_none=True)
    return batch.edge_index.size(1), step


def part_b(args, device):
    C, P = args.classes, args.predicates
    energy = EnergyModel(args.feat_dim, C, P, hidden_channels=args.hidden).to(device)
    sampler = SGLD(num_steps=args.steps)
    print(f"(b) energy model hidden {args.hidden} + {args.steps}-step SGLD + loss/backward, "
          f"{args.images} images x n objects, all ordered pairs (PredCls, device {device})")
    print(f"    {'n':>4} {'edges':>8} {'time (s)':>10} {'us / edge':>10} {'GFLOP':>9} "
          f"{'MFLOP / edge':>12} {'peak MiB':>10}")
    for n in args.objects:
        E, step = energy_step(args, device, energy, sampler, n)
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        step()  # warm-up (and the memory peak)
        mem = peak_memory_mib(device)
        t = timed(step, device, args.repeat)
        with FlopCounterMode(display=False) as counter:  # exact count, load-independent
            step()
        flops = counter.get_total_flops()
        print(f"    {n:>4} {E:>8} {t:>10.3f} {t / E * 1e6:>10.2f} {flops / 1e9:>9.1f} "
              f"{flops / E / 1e6:>12.2f} {mem:>10.0f}", flush=True)
        del step


_GEMMS = ("mm", "addmm", "bmm", "baddbmm")


class _GemmRecorder(torch.utils._python_dispatch.TorchDispatchMode):
    """Records ``(op, shapes of its tensor arguments)`` of every matrix product."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in _GEMMS:
            self.calls.append((name, [tuple(a.shape) for a in args
                                      if isinstance(a, torch.Tensor)]))
        return func(*args, **(kwargs or {}))


def _replay(calls, device):
    ops = {"mm": torch.mm, "addmm": torch.addmm, "bmm": torch.bmm, "baddbmm": torch.baddbmm}
    args = [(ops[n], [torch.randn(s, device=device) for s in shapes]) for n, shapes in calls]

    def run():
        for op, xs in args:
            op(*xs)
    return run


def part_c(args, device):
    C, P = args.classes, args.predicates
    energy = EnergyModel(args.feat_dim, C, P, hidden_channels=args.hidden).to(device)
    sampler = SGLD(num_steps=args.steps)
    print(f"(c) energy model hidden {args.hidden}, features {args.feat_dim}, {args.steps}-step "
          f"SGLD + loss/backward, {args.images} images x n objects (PredCls), device {device}")
    n_peak = 2048 if device.type == "cuda" else 1024
    a, b = torch.randn(n_peak, n_peak, device=device), torch.randn(n_peak, n_peak, device=device)
    t_peak = timed(lambda: torch.mm(a, b), device, max(args.repeat, 3))
    peak = 2 * n_peak ** 3 / t_peak
    print(f"    peak: {n_peak}^3 product {peak / 1e9:.1f} GFLOP/s")
    print(f"    {'n':>4} {'edges':>7} {'step s':>8} {'GEMMs':>6} {'GFLOP':>7} {'replay s':>9} "
          f"{'GFLOP/s':>8} {'step/replay':>11} {'step/peak bound':>15}")
    for n in args.objects:
        E, step = energy_step(args, device, energy, sampler, n)
        step()
        t = timed(step, device, args.repeat)
        rec = _GemmRecorder()
        with rec:
            step()
        with FlopCounterMode(display=False) as counter:
            step()
        flops = sum(v for k, v in counter.get_flop_counts()["Global"].items()
                    if k.__name__ in _GEMMS)
        replay = _replay(rec.calls, device)
        replay()
        t_gemm = timed(replay, device, args.repeat)
        print(f"    {n:>4} {E:>7} {t:>8.3f} {len(rec.calls):>6} "
              f"{flops / 1e9:>7.1f} {t_gemm:>9.3f} {flops / t_gemm / 1e9:>8.1f} "
              f"{t / t_gemm:>11.2f} {t / (flops / peak):>15.2f}", flush=True)
        del step, replay


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--part", choices=["a", "b", "c", "ab", "bc", "abc"], default="ab")
    p.add_argument("--task", default="predcls", choices=["predcls", "sgcls"])
    p.add_argument("--context", default="", help="context encoder for (a) (default: first "
                   "registered of motifs, vctree, transformer, imp)")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--objects", type=int, nargs="+", default=[10, 20, 40, 80])
    p.add_argument("--a-objects", type=int, default=20)
    p.add_argument("--pairs-per-image", type=int, default=256)
    p.add_argument("--feat-dim", type=int, default=256)
    p.add_argument("--classes", type=int, default=151, help="C + 1")
    p.add_argument("--predicates", type=int, default=51, help="P + 1")
    p.add_argument("--hidden", type=int, default=0, help="(b) energy width (default: 512 "
                   "on cuda, 128 on cpu)")
    p.add_argument("--a-hidden", type=int, default=0, help="(a) energy width (default: "
                   "as --hidden)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's)")
    args = p.parse_args()
    device = torch.device(args.device)
    args.hidden = args.hidden or (512 if device.type == "cuda" else 128)
    args.a_hidden = args.a_hidden or args.hidden
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}")
    if "a" in args.part:
        part_a(args, device)
    if "b" in args.part:
        part_b(args, device)
    if "c" in args.part:
        part_c(args, device)


if __name__ == "__main__":
    main()
