"""``JointGeneralizedRCNN``: detectron2's ``GeneralizedRCNN`` trained on a VG batch and a COCO
batch per iteration (Seg-SG's ``GeneralizedRCNNWithCOCO``, METHODS.md §2.2).

Backbone and RPN are shared; :class:`~.roi_heads.JointROIHeads` switches the vocabulary. The
COCO pass's losses are prefixed ``coco_``; all losses have weight 1.
"""
from typing import Dict, List, Optional

from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from torch import Tensor

__all__ = ["JointGeneralizedRCNN"]


@META_ARCH_REGISTRY.register()
class JointGeneralizedRCNN(GeneralizedRCNN):
    """``forward(vg_inputs, coco_inputs=None)``: losses in training; in eval the VG
    detections of ``vg_inputs`` (``inference(..., dataset="coco")`` for COCO's, with
    masks). Inputs are detectron2's ``[{"image": [3, H, W], "instances", "height",
    "width"}, ...]``."""

    def forward(self, batched_inputs: List[Dict], coco_inputs: Optional[List[Dict]] = None):
        if not self.training:
            return self.inference(batched_inputs)
        losses = self.losses(batched_inputs, "vg")
        if coco_inputs:
            losses.update({f"coco_{k}": v for k, v in self.losses(coco_inputs, "coco").items()})
        return losses

    def losses(self, batched_inputs: List[Dict], dataset: str) -> Dict[str, Tensor]:
        """RPN and ROI-head losses of one dataset's batch."""
        images = self.preprocess_image(batched_inputs)
        targets = [x["instances"].to(self.device) for x in batched_inputs]
        features = self.backbone(images.tensor)
        proposals, rpn_losses = self.proposal_generator(images, features, targets)
        _, det_losses = self.roi_heads(images, features, proposals, targets, dataset=dataset)
        return {**rpn_losses, **det_losses}

    def inference(self, batched_inputs: List[Dict], detected_instances=None,
                  do_postprocess: bool = True, dataset: str = "vg"):
        """Detections of one dataset's vocabulary, rescaled to each input's ``height`` /
        ``width`` (``do_postprocess``)."""
        if detected_instances is not None:
            raise NotImplementedError("JointGeneralizedRCNN: use Detectron2Detector.extract "
                                      "for given boxes")
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        proposals, _ = self.proposal_generator(images, features, None)
        results, _ = self.roi_heads(images, features, proposals, None, dataset=dataset)
        if not do_postprocess:
            return results
        return GeneralizedRCNN._postprocess(results, batched_inputs, images.image_sizes)
