"""Inference over a dataset split, sharded over processes and gathered on rank 0, in the
predictions interchange format (:mod:`pyg_sgg.evaluation.interchange`)."""
from typing import Any, Dict, Optional

import torch
from torch.utils.data import DataLoader

from ..evaluation.interchange import concat_predictions
from . import distributed as du
from .samplers import InferenceSampler

__all__ = ["inference_on_dataset", "resolve_device", "default_collate"]


def default_collate(items):
    """PyG ``Batch.from_data_list``."""
    from torch_geometric.data import Batch
    return Batch.from_data_list(items)


def _to_numpy(d: Dict[str, Any]) -> Dict[str, Any]:
    """Tensors of ``d`` as numpy arrays (CPU), other values unchanged."""
    return {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
            for k, v in d.items()}


def resolve_device(cfg) -> torch.device:
    """``MODEL.DEVICE``, else CUDA when available (this process's GPU under DDP), else CPU."""
    if cfg.MODEL.DEVICE:
        dev = torch.device(cfg.MODEL.DEVICE)
    else:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda" and dev.index is None and du.get_world_size() > 1:
        dev = torch.device("cuda", du.get_local_rank() % torch.cuda.device_count())
    return dev


@torch.no_grad()
def inference_on_dataset(model: torch.nn.Module, dataset, cfg, collate_fn=None,
                         device: Optional[torch.device] = None) -> Dict[str, Any]:
    """``model.predict`` over ``dataset`` (this process's slice), gathered from every process.

    Returns the merged predictions dict on rank 0 (``{}`` on the others).
    """
    device = device or resolve_device(cfg)
    model = model.to(device)
    amp = cfg.SOLVER.AMP.ENABLED
    dtype = torch.bfloat16 if device.type == "cpu" else torch.float16
    rank, world = du.get_rank(), du.get_world_size()
    loader = DataLoader(dataset, max(1, cfg.TEST.IMS_PER_BATCH // world),
                        sampler=InferenceSampler(len(dataset), rank, world),
                        collate_fn=collate_fn or default_collate,
                        generator=torch.Generator(),  # leaves the global RNG untouched
                        num_workers=cfg.DATALOADER.NUM_WORKERS)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        for batch in loader:
            batch = batch.to(device)
            with torch.autocast(device.type, dtype, enabled=amp):
                chunks.append(_to_numpy(model.predict(batch)))
    finally:
        model.train(was_training)
    gathered = du.all_gather_object(chunks)
    if rank != 0:
        return {}
    chunks = [c for rank_chunks in gathered for c in rank_chunks if c]
    return concat_predictions(chunks) if chunks else {}
