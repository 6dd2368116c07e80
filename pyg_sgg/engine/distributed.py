"""Multi-process training: ``torchrun`` or :func:`launch` (detectron2-style), gloo on CPU,
NCCL on GPUs, plus the few collectives the trainer needs.

Two ways to start ``W`` processes::

    torchrun --nproc_per_node 2 train.py ...     # env:// rendezvous, WORLD_SIZE etc. set
    python train.py --num-gpus 2 ...             # launch() spawns them (CPU: processes)
"""
import os
import socket
from datetime import timedelta
from typing import Any, Callable, List, Optional, Tuple

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["launch", "init_distributed", "get_rank", "get_world_size", "is_main_process",
           "synchronize", "all_gather_object", "broadcast_object", "default_backend",
           "find_free_port"]


def default_backend() -> str:
    return "nccl" if torch.cuda.is_available() else "gloo"


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def get_local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", get_rank()))


def is_main_process() -> bool:
    return get_rank() == 0


def synchronize() -> None:
    if is_dist() and get_world_size() > 1:
        dist.barrier()


def all_gather_object(obj: Any) -> List[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` when not distributed)."""
    if get_world_size() == 1:
        return [obj]
    out: List[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(backend: Optional[str] = None, init_method: str = "env://",
                     rank: Optional[int] = None, world_size: Optional[int] = None,
                     timeout_s: int = 1800) -> None:
    """Join the process group (no-op when ``WORLD_SIZE`` is unset/1 and no ``world_size``).

    With ``torchrun`` all arguments come from the environment.
    """
    if is_dist():
        return
    world_size = world_size if world_size is not None else int(os.environ.get("WORLD_SIZE", 1))
    if world_size <= 1:
        return
    rank = rank if rank is not None else int(os.environ["RANK"])
    backend = backend or default_backend()
    if backend == "nccl":
        torch.cuda.set_device(get_local_rank() % torch.cuda.device_count())
    dist.init_process_group(backend, init_method=init_method, rank=rank,
                            world_size=world_size, timeout=timedelta(seconds=timeout_s))


def _worker(local_rank: int, main_func: Callable, world_size: int, procs_per_machine: int,
            machine_rank: int, dist_url: str, backend: str, args: Tuple) -> None:
    rank = machine_rank * procs_per_machine + local_rank
    os.environ["LOCAL_RANK"] = str(local_rank)
    os.environ["RANK"] = str(rank)
    os.environ["WORLD_SIZE"] = str(world_size)
    init_distributed(backend, init_method=dist_url, rank=rank, world_size=world_size)
    try:
        main_func(*args)
    finally:
        if is_dist():
            dist.destroy_process_group()


def launch(main_func: Callable, num_gpus_per_machine: int, num_machines: int = 1,
           machine_rank: int = 0, dist_url: Optional[str] = None, args: Tuple = (),
           backend: Optional[str] = None) -> None:
    """Run ``main_func(*args)`` in ``num_gpus_per_machine * num_machines`` processes.

    Under ``torchrun`` (``WORLD_SIZE`` set) or with one process in total, ``main_func`` runs
    in this process. On a machine without CUDA, "GPUs" are CPU processes using gloo.

    Args:
        dist_url (str, optional): ``tcp://host:port``; ``"auto"``/``None`` picks a free local
            port (single machine only).
    """
    world_size = num_gpus_per_machine * num_machines
    if "WORLD_SIZE" in os.environ and "RANK" in os.environ:
        init_distributed(backend)
        try:
            main_func(*args)
        finally:
            if is_dist():
                dist.destroy_process_group()
        return
    if world_size <= 1:
        main_func(*args)
        return
    if dist_url in (None, "auto"):
        if num_machines != 1:
            raise ValueError("--dist-url auto works on one machine only; give tcp://host:port")
        dist_url = f"tcp://127.0.0.1:{find_free_port()}"
    backend = backend or default_backend()
    mp.start_processes(_worker, nprocs=num_gpus_per_machine, start_method="spawn",
                       args=(main_func, world_size, num_gpus_per_machine, machine_rank,
                             dist_url, backend, args))
