"""The zero-shot mask transfer's class map (Khandelwal et al., ICCV'21, METHODS.md §2.3): how
each VG class's mask is made from the detector's COCO-vocabulary mask logits.

* **Base** VG classes (by the alias table ``resources/vg_to_coco_aliases.json``, else by an
  equal lower-cased name) take their COCO class's channel: a one-hot row.
* **Novel** classes take ``softmax(e_vg · e_cocoᵀ)`` over the COCO classes (raw dot products
  of the class-name embeddings), entries below ``threshold`` (0.05) set to 0, the row
  renormalised. A row with no entry at the threshold would be 0 / 0 in the authors' code;
  here it keeps its unthresholded softmax (``empty_rows="softmax"``; ``"zero"`` leaves it
  empty: that class's transferred logits are 0).

Rows are VG foreground classes ``1..C``, columns COCO foreground classes ``1..K`` (both
vocabularies' index 0 is background and takes no part).
"""
import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ["load_aliases", "base_classes", "transfer_matrix", "transfer_embeddings"]

ALIASES_FILE = Path(__file__).with_name("resources") / "vg_to_coco_aliases.json"


def load_aliases(path: Optional[Path] = None) -> Dict[str, str]:
    """The VG → COCO name table (comment keys starting with ``_`` dropped)."""
    data = json.loads(Path(path or ALIASES_FILE).read_text())
    return {k.lower(): v.lower() for k, v in data.items() if not k.startswith("_")}


def base_classes(vg_names: Sequence[str], coco_names: Sequence[str],
                 aliases: Optional[Dict[str, str]] = None) -> Tensor:
    """``[C]`` the COCO foreground index (``0..K-1``) of each VG foreground class, -1 for a
    novel one. ``vg_names`` / ``coco_names`` include ``"__background__"`` at 0."""
    aliases = load_aliases() if aliases is None else aliases
    coco = {n.lower(): k for k, n in enumerate(coco_names[1:])}
    out = []
    for name in vg_names[1:]:
        target = aliases.get(name.lower(), name.lower())
        out.append(coco.get(target, -1))
    return torch.tensor(out, dtype=torch.long)


def transfer_matrix(vg_names: Sequence[str], coco_names: Sequence[str], vg_embed: Tensor,
                    coco_embed: Tensor, aliases: Optional[Dict[str, str]] = None,
                    threshold: float = 0.05, empty_rows: str = "softmax") -> Tuple[Tensor, Tensor]:
    """``(T [C, K], base [C])``: row ``c`` weights the COCO channels that make VG class
    ``c``'s mask logits; ``base`` as :func:`base_classes`.

    Args:
        vg_embed (Tensor): ``[C + 1, D]`` embeddings of ``vg_names`` (row 0 unused).
        coco_embed (Tensor): ``[K + 1, D]`` embeddings of ``coco_names`` (row 0 unused).
        threshold (float): the authors' ``LINGUAL_MATRIX_THRESHOLD``. (default: ``0.05``)
        empty_rows (str): ``"softmax"`` or ``"zero"`` (see the module docstring).
    """
    if empty_rows not in ("softmax", "zero"):
        raise ValueError(f"transfer_matrix: empty_rows must be 'softmax' or 'zero', got "
                         f"{empty_rows!r}")
    base = base_classes(vg_names, coco_names, aliases)
    sim = torch.softmax(vg_embed[1:].double() @ coco_embed[1:].double().t(), dim=-1)  # [C, K]
    kept = sim.where(sim >= threshold, torch.zeros_like(sim))
    total = kept.sum(-1, keepdim=True)
    rows = torch.where(total > 0, kept / total.clamp(min=1e-300),
                       sim if empty_rows == "softmax" else torch.zeros_like(sim))
    T = rows.float()
    is_base = base >= 0
    T[is_base] = 0.0
    T[is_base.nonzero().view(-1), base[is_base]] = 1.0
    return T, base


def transfer_embeddings(names: Sequence[str], glove_file: Optional[str] = None) -> Tensor:
    """Class-name embeddings for the transfer: a GloVe file, else the ``language`` extra;
    never random vectors (a transfer through them is meaningless) - a one-line
    ``RuntimeError`` says how to get real ones."""
    from .word_embeddings import class_name_embeddings
    return class_name_embeddings(list(names), glove_file=glove_file or None,
                                 source="glove" if glove_file else "minilm",
                                 allow_random=False)
