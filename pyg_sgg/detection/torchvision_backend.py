"""The default :class:`~pyg_sgg.detection.base.Detector`: a frozen :class:`JointMaskRCNN`."""
from typing import List, Optional

import torch
from torch import Tensor
from torchvision.models.detection.transform import resize_boxes

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.detection.base import Detector, ImageFeatures
from pyg_sgg.detection.joint_mask_rcnn import JointMaskRCNN, pair_union_boxes


class TorchvisionDetector(Detector):
    """Serves RoI / union-box features, class logits and COCO mask logits of a
    :class:`JointMaskRCNN` (evaluated in ``eval`` mode under ``torch.no_grad``).

    Args:
        model (JointMaskRCNN): the trained detector.
        masks (bool): return mask logits ``[N, K, 28, 28]`` (needs a COCO head).
            (default: ``True`` when the model has one)
        pair_features (bool): compute union-box features of every ordered pair.
            (default: ``True``)
        detections_per_img (int, optional): cap for :meth:`detect` (the model's
            ``box_detections_per_img`` when ``None``).
    """

    def __init__(self, model: JointMaskRCNN, masks: Optional[bool] = None,
                 pair_features: bool = True, detections_per_img: Optional[int] = None):
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.masks = model.mask_on if masks is None else bool(masks)
        if self.masks and not model.mask_on:
            raise ValueError("TorchvisionDetector: masks=True needs a model with a COCO mask head")
        self.with_pairs = bool(pair_features)
        if detections_per_img is not None:
            self.model.roi_heads.detections_per_img = int(detections_per_img)
        self.feature_dim = model.representation_size
        self.pair_feature_dim = model.representation_size
        self.num_classes = model.num_classes
        self.num_mask_classes = model.num_mask_classes

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _describe(self, image_list, features, orig_sizes, boxes: List[Tensor],
                  labels: List[Tensor], scores: List[Tensor]) -> List[ImageFeatures]:
        # boxes: input-image pixels -> transformed-image pixels
        sizes = image_list.image_sizes
        tboxes = [resize_boxes(b.to(self.device, torch.float32), o, s)
                  for b, o, s in zip(boxes, orig_sizes, sizes)]
        counts = torch.tensor([b.size(0) for b in tboxes], dtype=torch.long)
        roi = self.model.roi_descriptors(features, tboxes, sizes)
        logits = self.model.class_logits(roi)
        mask = self.model.mask_logits(features, tboxes, sizes) if self.masks else None
        if self.with_pairs:
            pairs = all_pairs(counts).to(self.device)
            flat = torch.cat(tboxes) if tboxes else roi.new_zeros(0, 4)
            union = pair_union_boxes(flat, pairs)
            img_of_node = torch.repeat_interleave(torch.arange(len(tboxes)), counts)
            pair_counts = torch.bincount(img_of_node[pairs[0].cpu()], minlength=len(tboxes))
            union_list = list(union.split(pair_counts.tolist()))
            pair_feat = self.model.roi_descriptors(features, union_list, sizes)
            pair_split = pair_feat.split(pair_counts.tolist())
        else:
            pair_split = [roi.new_zeros(0, self.pair_feature_dim)] * len(tboxes)
        n = counts.tolist()
        out = []
        for i, (r, lg) in enumerate(zip(roi.split(n), logits.split(n))):
            out.append(ImageFeatures(
                boxes=boxes[i].to(self.device, torch.float32), labels=labels[i].to(self.device),
                scores=scores[i].to(self.device), roi_features=r, pair_features=pair_split[i],
                class_logits=lg, mask_logits=None if mask is None else mask.split(n)[i]))
        return out

    @torch.no_grad()
    def extract(self, images: List[Tensor], boxes: List[Tensor],
                labels: Optional[List[Tensor]] = None) -> List[ImageFeatures]:
        """Features for given boxes (input-image ``xyxy`` pixels); see :class:`ImageFeatures`.

        ``labels`` default to the detector's argmax class; scores are 1.
        """
        if len(images) != len(boxes):
            raise ValueError(f"extract: {len(images)} images but {len(boxes)} box tensors")
        if not images:
            return []
        images = [img.to(self.device) for img in images]
        boxes = [torch.as_tensor(b, dtype=torch.float32).reshape(-1, 4) for b in boxes]
        image_list, features, orig = self.model.image_features(images)
        scores = [torch.ones(b.size(0)) for b in boxes]
        if labels is None:
            labels = [torch.zeros(b.size(0), dtype=torch.long) for b in boxes]
            out = self._describe(image_list, features, orig, boxes, labels, scores)
            for f in out:
                f.labels = f.class_logits[:, 1:].argmax(1) + 1 if f.class_logits.numel() \
                    else f.labels
            return out
        labels = [torch.as_tensor(lab, dtype=torch.long).reshape(-1) for lab in labels]
        return self._describe(image_list, features, orig, boxes, labels, scores)

    @torch.no_grad()
    def detect(self, images: List[Tensor]) -> List[ImageFeatures]:
        """Detections (per-class NMS, at most ``detections_per_img``) with their features,
        class logits of the final boxes and, when on, mask logits."""
        if not images:
            return []
        images = [img.to(self.device) for img in images]
        image_list, features, orig = self.model.image_features(images)
        proposals = self.model.proposals(image_list, features)
        dets, _ = self.model.roi_heads(features, proposals, image_list.image_sizes)
        dets = self.model.transform.postprocess(dets, image_list.image_sizes, orig)
        return self._describe(image_list, features, orig, [d["boxes"] for d in dets],
                              [d["labels"] for d in dets], [d["scores"] for d in dets])
