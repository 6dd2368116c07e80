"""Reading checkpoint files a user hands in, and fitting their weights to a model, with
one-line errors that name the file (:class:`~pyg_sgg.errors.CheckpointError`)."""
from pathlib import Path
from typing import Any, Dict

import torch

from .errors import CheckpointError

__all__ = ["read_checkpoint", "load_model_state"]


def read_checkpoint(path, map_location="cpu") -> Dict[str, Any]:
    """The dict stored in ``path`` (a torch checkpoint); an unreadable file or one holding
    something else fails naming it."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated, not a torch file, unpicklable: one line
        first = str(e).splitlines()[0] if str(e) else ""
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: "
                              f"{first})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a checkpoint (a {type(state).__name__}, "
                              f"expected a dict of states)")
    return state


def load_model_state(model: torch.nn.Module, state: Dict[str, Any], path) -> None:
    """``model.load_state_dict`` of a checkpoint's ``"model"`` entry (or of a bare state
    dict), strictly; a mismatch raises :class:`~pyg_sgg.errors.CheckpointError` in one line
    that counts and names the first differences."""
    weights = state.get("model", state)
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path}: its 'model' entry is not a state dict")
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shapes = [(k, tuple(weights[k].shape), tuple(v.shape)) for k, v in own.items()
              if k in weights and hasattr(weights[k], "shape")
              and tuple(weights[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            k, a, b = shapes[0]
            parts.append(f"{len(shapes)} of another shape (e.g. {k}: {list(a)} in the file, "
                         f"{list(b)} in the model)")
        raise CheckpointError(f"{path}: does not fit the model of this config: "
                              f"{'; '.join(parts)} - was it trained with another config? (its "
                              f"run folder holds the config.yaml it was trained with)")
    model.load_state_dict(weights)
