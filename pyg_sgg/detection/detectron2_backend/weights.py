"""Weights into and out of :class:`~.meta_arch.JointGeneralizedRCNN`.

* :class:`JointCheckpointer`: detectron2's ``DetectionCheckpointer`` that writes atomically
  (a killed save never leaves a truncated ``model_final.pth``) and maps a plain Mask R-CNN
  checkpoint (a model-zoo COCO model: one box predictor, a mask head) onto the joint model as
  Seg-SG does: its box predictor becomes ``coco_box_predictor``, its mask head the COCO mask
  head; the VG predictor keeps its initialisation.
* :func:`torchvision_to_detectron2`: a :class:`~pyg_sgg.detection.JointMaskRCNN` state dict
  (small CPU FPN) as the same detector's detectron2 state dict.
"""
import os
from typing import Dict

import torch
from detectron2.checkpoint import DetectionCheckpointer
from torch import Tensor

from .labels import (box_regressor_rows_to_detectron2,
                     classifier_rows_to_detectron2,
                     mask_channels_to_detectron2)

__all__ = ["JointCheckpointer", "plain_to_joint", "torchvision_to_detectron2"]


def plain_to_joint(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """A plain Mask R-CNN state dict (``roi_heads.box_predictor`` on COCO, no
    ``coco_box_predictor``) with its box predictor renamed to ``roi_heads.coco_box_predictor``;
    a joint state dict is returned as it is."""
    if any(k.startswith("roi_heads.coco_box_predictor.") for k in state):
        return dict(state)
    prefix = "roi_heads.box_predictor."
    return {("roi_heads.coco_box_predictor." + k[len(prefix):] if k.startswith(prefix) else k): v
            for k, v in state.items()}


class JointCheckpointer(DetectionCheckpointer):
    """``DetectionCheckpointer`` with atomic saves and :func:`plain_to_joint` on load of a
    checkpoint that is not a joint model's (set ``map_plain=False`` to load it as it is)."""

    def __init__(self, model, save_dir: str = "", *, map_plain: bool = True, **checkpointables):
        super().__init__(model, save_dir, **checkpointables)
        self.map_plain = map_plain

    def save(self, name: str, **kwargs) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        path = os.path.join(self.save_dir, f"{name}.pth")
        tmp = f"{path}.tmp{os.getpid()}"
        self.logger.info("Saving checkpoint to %s", path)
        with open(tmp, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self.tag_last_checkpoint(os.path.basename(path))

    def _load_model(self, checkpoint):
        joint = hasattr(getattr(self.model, "roi_heads", None), "coco_box_predictor")
        if self.map_plain and joint and self.model.roi_heads.coco_box_predictor is not None:
            checkpoint["model"] = plain_to_joint(checkpoint["model"])
        return super()._load_model(checkpoint)


def _anchor_permutation(num_sizes: int, num_ratios: int) -> Tensor:
    """detectron2 anchor ``a = s R + r`` (size-major) -> torchvision anchor ``r S + s``
    (ratio-major) at the same location."""
    s = torch.arange(num_sizes).repeat_interleave(num_ratios)
    r = torch.arange(num_ratios).repeat(num_sizes)
    return r * num_sizes + s


def torchvision_to_detectron2(state: Dict[str, Tensor], num_anchor_sizes: int,
                              num_aspect_ratios: int) -> Dict[str, Tensor]:
    """A :class:`~pyg_sgg.detection.JointMaskRCNN` state dict with the small CPU FPN as the
    state dict of the same detector built by :func:`~.config.to_detectron2_config`.

    Renames the layers, moves the classifiers' background row last, drops the box regressor's
    background rows and the mask predictor's background channel, and reorders the RPN's
    anchors (torchvision enumerates aspect ratios outer, detectron2 sizes outer).
    ``num_anchor_sizes``: anchor sizes per level (the RPN head is shared).
    """
    perm = _anchor_permutation(num_anchor_sizes, num_aspect_ratios)
    deltas = (perm[:, None] * 4 + torch.arange(4)).reshape(-1)
    out: Dict[str, Tensor] = {}
    for key, v in state.items():
        if key.startswith("backbone."):
            out["backbone.net." + key[len("backbone."):]] = v
        elif key.startswith("rpn.head.conv.0.0."):
            out["proposal_generator.rpn_head.conv." + key.rsplit(".", 1)[1]] = v
        elif key.startswith("rpn.head.cls_logits."):
            out["proposal_generator.rpn_head.objectness_logits." + key.rsplit(".", 1)[1]] = v[perm]
        elif key.startswith("rpn.head.bbox_pred."):
            out["proposal_generator.rpn_head.anchor_deltas." + key.rsplit(".", 1)[1]] = v[deltas]
        elif key.startswith("roi_heads.box_head.fc6."):
            out["roi_heads.box_head.fc1." + key.rsplit(".", 1)[1]] = v
        elif key.startswith("roi_heads.box_head.fc7."):
            out["roi_heads.box_head.fc2." + key.rsplit(".", 1)[1]] = v
        elif key.startswith(("roi_heads.box_predictor.", "coco_roi_heads.box_predictor.")):
            head = ("roi_heads.box_predictor." if key.startswith("roi_heads.")
                    else "roi_heads.coco_box_predictor.")
            layer, param = key.split(".")[-2:]
            conv = (classifier_rows_to_detectron2 if layer == "cls_score"
                    else box_regressor_rows_to_detectron2)
            out[f"{head}{layer}.{param}"] = conv(v)
        elif key.startswith("coco_roi_heads.mask_head."):
            i, _, param = key[len("coco_roi_heads.mask_head."):].split(".")
            out[f"roi_heads.mask_head.mask_fcn{int(i) + 1}.{param}"] = v
        elif key.startswith("coco_roi_heads.mask_predictor.conv5_mask."):
            out["roi_heads.mask_head.deconv." + key.rsplit(".", 1)[1]] = v
        elif key.startswith("coco_roi_heads.mask_predictor.mask_fcn_logits."):
            out["roi_heads.mask_head.predictor." + key.rsplit(".", 1)[1]] = \
                mask_channels_to_detectron2(v)
        elif key.startswith("coco_roi_heads.box_head."):
            continue  # the same module as roi_heads.box_head
        else:
            raise KeyError(f"torchvision_to_detectron2: no detectron2 name for {key!r} (only "
                           f"the small_conv_fpn detector is mapped)")
    return out
