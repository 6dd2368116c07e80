"""Data-parallel scaling on CPU (gloo): one process vs two, CE and EBM training steps.

Each process trains the same synthetic :class:`~pyg_sgg.models.SceneGraphModel` (wrapped in
``DistributedDataParallel`` as the trainer wraps it; EBM's energy model outside it, its
gradients averaged in one all-reduce as the trainer does) on its own batch of ``--images``
images. Per method it prints the step time of one process alone, the step time of each of
two processes, the same step under ``no_sync()`` without the energy model's all-reduce
(compute only), hence the all-reduce share of the step, the gradient volume per step and the
bandwidth gloo reached. From the measured volume it estimates, on paper, the all-reduce time
of 8 GPUs with NCCL (a ring moves ``2 (n - 1) / n`` of the volume per GPU) at the bus
bandwidths given by ``--busbw`` (assumptions, not measurements)::

    python benchmarks/ddp_scaling.py --threads 1 --methods ce ebm --steps 8
"""
import argparse
import os
import socket
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hml_cost import add_size_args, synthetic_batch, synthetic_model  # noqa: E402

from pyg_sgg.methods.ebm import EBM  # noqa: E402
from pyg_sgg.methods.sgld import SGLD  # noqa: E402
from pyg_sgg.models.losses import sgg_task_loss  # noqa: E402
from pyg_sgg.nn import EnergyModel  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, world: int, port: int, a, method: str, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    model = synthetic_model(a, "predcls")
    batch = synthetic_batch(a.images, a.objects, a.feat_dim, a.classes, a.predicates,
                            seed=rank)
    batch.edge_attr = torch.randn(batch.edge_index.size(1), a.feat_dim)
    batch = model.prepare_batch(batch, torch.Generator().manual_seed(rank))
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    ebm = None
    outside = []
    if method == "ebm":
        torch.manual_seed(0)
        energy = EnergyModel(a.feat_dim, a.classes + 1, a.predicates + 1,
                             hidden_channels=a.hidden)
        ebm = EBM(task="predcls", energy_model=energy, sampler=SGLD(num_steps=a.sgld_steps))
        ebm.setup(model, None)
        outside = [p for p in energy.parameters() if p.requires_grad]

    def step(sync: bool):
        opt.zero_grad(set_to_none=True)
        if ebm is not None:
            ebm.optimizer.zero_grad(set_to_none=True)
        ctx = ddp.no_sync() if not sync else torch.enable_grad()
        with ctx:
            out = ddp(batch)
            loss = (ebm.loss(model, batch, out) if ebm is not None
                    else sgg_task_loss(batch, out))
            sum(loss.values()).backward()
        if outside and sync:  # the trainer's one all-reduce of the energy model's gradients
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in outside]
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
        opt.step()
        if ebm is not None:
            ebm.optimizer.step()

    step(True), step(False)  # warm-up
    t_sync = t_local = float("inf")
    for _ in range(a.steps):  # interleaved minimum: robust to load
        dist.barrier()
        t = time.perf_counter(); step(True); t_sync = min(t_sync, time.perf_counter() - t)
        dist.barrier()
        t = time.perf_counter(); step(False); t_local = min(t_local, time.perf_counter() - t)
    volume = 4 * (sum(p.numel() for p in model.parameters() if p.requires_grad)
                  + sum(p.numel() for p in outside))
    times = torch.tensor([t_sync, t_local])
    dist.all_reduce(times, op=dist.ReduceOp.MAX)  # the slower process sets the pace
    if rank == 0:
        out.put((times.tolist(), volume, batch.edge_index.size(1)))
    dist.destroy_process_group()


def measure(a, method: str, world: int):
    ctx = mp.get_context("spawn")
    q = ctx.SimpleQueue()
    mp.start_processes(worker, args=(world, free_port(), a, method, q), nprocs=world,
                       start_method="spawn")
    return q.get()


def main():
    p = add_size_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), images=8)
    p.add_argument("--methods", nargs="+", default=["ce", "ebm"])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--hidden", type=int, default=128, help="energy-model width")
    p.add_argument("--sgld-steps", type=int, default=20)
    p.add_argument("--busbw", type=float, nargs="+", default=[25.0, 400.0],
                   help="NCCL all-reduce bus bandwidths (GB/s) for the 8-GPU estimate "
                        "(25: PCIe 4 x16; 400: H100 NVLink), assumptions")
    a = p.parse_args()
    a.threads = a.threads or 1
    print(f"torch {torch.__version__}; {a.images} images x {a.objects} objects per process, "
          f"context {a.context}, features {a.feat_dim}, {a.threads} thread(s) per process, "
          f"gloo on {os.cpu_count()} cores")
    for method in a.methods:
        (t1, _), volume, pairs = measure(a, method, 1)
        (t2, t2_local), _, _ = measure(a, method, 2)
        share = max(t2 - t2_local, 0.0) / t2
        print(f"\n{method}: {pairs} sampled pairs per process, gradient volume "
              f"{volume / 2**20:.1f} MiB per step")
        print(f"  1 process      step {t1 * 1e3:8.1f} ms   {a.images / t1:7.1f} images/s")
        print(f"  2 processes    step {t2 * 1e3:8.1f} ms   {a.images / t2:7.1f} images/s per "
              f"process, {2 * a.images / t2:7.1f} in all: {2 * t1 / t2:4.2f}x of one "
              f"(efficiency {t1 / t2:4.2f})")
        print(f"  compute only   step {t2_local * 1e3:8.1f} ms (no_sync): all-reduce share "
              f"{100 * share:4.1f} % of the step, gloo {volume / 2**30 / max(t2 - t2_local, 1e-9):.2f}"
              f" GiB/s")
        for bw in a.busbw:
            t8 = 2 * 7 / 8 * volume / (bw * 1e9)
            print(f"  8 GPUs, NCCL at {bw:5.0f} GB/s bus bandwidth (assumed): all-reduce "
                  f"{t8 * 1e3:6.2f} ms per step; under 10 % of the step if a GPU step takes "
                  f">= {10 * t8 * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
