"""``JointROIHeads``: detectron2's ``StandardROIHeads`` with a second vocabulary (Seg-SG's
``StandardROIHeadsWithCOCO``, METHODS.md §2.2).

The box pooler and two-FC box head are shared. ``box_predictor`` classifies the VG vocabulary
(``MODEL.ROI_HEADS.NUM_CLASSES``); ``coco_box_predictor`` and the mask head the COCO vocabulary
(``MODEL.ROI_HEADS.MASK_NUM_CLASSES``). A VG pass runs the VG predictor only (no mask loss); a
COCO pass runs the COCO predictor and the mask head.
"""
import contextlib
from typing import Dict, List, Optional

from detectron2.config import configurable
from detectron2.modeling import ROI_HEADS_REGISTRY, StandardROIHeads
from detectron2.modeling.roi_heads import FastRCNNOutputLayers
from detectron2.structures import ImageList, Instances
from torch import Tensor

__all__ = ["JointROIHeads"]

DATASETS = ("vg", "coco")


def _with_classes(cfg, num_classes: int):
    c = cfg.clone()
    c.defrost()
    c.MODEL.ROI_HEADS.NUM_CLASSES = int(num_classes)
    return c


@ROI_HEADS_REGISTRY.register()
class JointROIHeads(StandardROIHeads):
    """ROI heads for joint VG-box / COCO-mask training.

    Args (beyond ``StandardROIHeads``'s):
        coco_box_predictor (FastRCNNOutputLayers, optional): the COCO box predictor; None
            for the box-only detector.
        num_mask_classes (int): COCO classes ``K`` (the mask head predicts ``K`` channels).
    """

    @configurable
    def __init__(self, *, coco_box_predictor: Optional[FastRCNNOutputLayers] = None,
                 num_mask_classes: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.coco_box_predictor = coco_box_predictor
        self.num_mask_classes = int(num_mask_classes)
        self.num_vg_classes = self.num_classes
        self.has_masks = self.mask_on

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        k = int(cfg.MODEL.ROI_HEADS.get("MASK_NUM_CLASSES", 0)) if cfg.MODEL.MASK_ON else 0
        ret["num_mask_classes"] = k
        if k > 0:
            ret["coco_box_predictor"] = FastRCNNOutputLayers(_with_classes(cfg, k),
                                                             ret["box_head"].output_shape)
        return ret

    @classmethod
    def _init_mask_head(cls, cfg, input_shape):
        # the mask head predicts the COCO vocabulary
        k = int(cfg.MODEL.ROI_HEADS.get("MASK_NUM_CLASSES", 0))
        if not cfg.MODEL.MASK_ON or k <= 0:
            return {}
        return super()._init_mask_head(_with_classes(cfg, k), input_shape)

    @contextlib.contextmanager
    def vocabulary(self, dataset: str):
        """Within: ``num_classes`` (read by proposal sampling and the mask head's foreground
        selection) and ``mask_on`` are those of ``dataset``."""
        if dataset not in DATASETS:
            raise ValueError(f"JointROIHeads: dataset must be 'vg' or 'coco', got {dataset!r}")
        if dataset == "coco" and self.coco_box_predictor is None:
            raise ValueError("JointROIHeads: dataset='coco' needs MODEL.MASK_ON and "
                             "MODEL.ROI_HEADS.MASK_NUM_CLASSES > 0")
        coco = dataset == "coco"
        self.num_classes = self.num_mask_classes if coco else self.num_vg_classes
        self.mask_on = self.has_masks and coco
        try:
            yield self.coco_box_predictor if coco else self.box_predictor
        finally:
            self.num_classes, self.mask_on = self.num_vg_classes, self.has_masks

    def box_features(self, features: Dict[str, Tensor], boxes: List) -> Tensor:
        """``[ΣN, FC_DIM]`` box-head features of ``boxes`` (a ``Boxes`` per image)."""
        x = self.box_pooler([features[f] for f in self.box_in_features], boxes)
        return self.box_head(x)

    def forward(self, images: ImageList, features: Dict[str, Tensor],
                proposals: List[Instances], targets: Optional[List[Instances]] = None,
                dataset: str = "vg"):
        """``(instances, losses)`` of one dataset's batch (see ``StandardROIHeads``)."""
        del images
        with self.vocabulary(dataset) as predictor:
            if self.training:
                if not targets:
                    raise ValueError("JointROIHeads: targets are required in training")
                proposals = self.label_and_sample_proposals(proposals, targets)
                x = self.box_features(features, [p.proposal_boxes for p in proposals])
                losses = predictor.losses(predictor(x), proposals)
                losses.update(self._forward_mask(features, proposals))
                return proposals, losses
            x = self.box_features(features, [p.proposal_boxes for p in proposals])
            instances, _ = predictor.inference(predictor(x), proposals)
            return self._forward_mask(features, instances), {}
