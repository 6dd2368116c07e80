"""The default :class:`~pyg_sgg.detection.base.Detector`: a frozen :class:`JointMaskRCNN`."""
import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor
from torchvision.models.detection.transform import resize_boxes

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.detection.base import Detector, ImageFeatures
from pyg_sgg.detection.joint_mask_rcnn import JointMaskRCNN
from pyg_sgg.nn.box_feature_extractor import BoxFeatureExtractor
from pyg_sgg.nn.box_geometry import pair_union_boxes
from pyg_sgg.nn.union_feature_extractor import UnionFeatureExtractor


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
                  labels: List[Tensor], scores: List[Tensor],
                  pair_features: Optional[bool] = None) -> List[ImageFeatures]:
        # boxes: input-image pixels -> transformed-image pixels
        sizes = image_list.image_sizes
        tboxes = [resize_boxes(b.to(self.device, torch.float32), o, s)
                  for b, o, s in zip(boxes, orig_sizes, sizes)]
        counts = torch.tensor([b.size(0) for b in tboxes], dtype=torch.long)
        roi = self.model.roi_descriptors(features, tboxes, sizes)
        logits = self.model.class_logits(roi)
        mask = self.model.mask_logits(features, tboxes, sizes) if self.masks else None
        if self.with_pairs if pair_features is None else pair_features:
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
                labels: Optional[List[Tensor]] = None,
                pair_features: Optional[bool] = None) -> List[ImageFeatures]:
        """Features for given boxes (input-image ``xyxy`` pixels); see :class:`ImageFeatures`.

        ``labels`` default to the detector's argmax class; scores are 1. ``pair_features``
        overrides the constructor's choice (``False``: an empty ``pair_features``).
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
            out = self._describe(image_list, features, orig, boxes, labels, scores,
                                 pair_features)
            for f in out:
                f.labels = f.class_logits[:, 1:].argmax(1) + 1 if f.class_logits.numel() \
                    else f.labels
            return out
        labels = [torch.as_tensor(lab, dtype=torch.long).reshape(-1) for lab in labels]
        return self._describe(image_list, features, orig, boxes, labels, scores, pair_features)

    @torch.no_grad()
    def detect(self, images: List[Tensor],
               pair_features: Optional[bool] = None) -> List[ImageFeatures]:
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
                              [d["labels"] for d in dets], [d["scores"] for d in dets],
                              pair_features)

    # ------------------------------------------------------------------ FPN maps
    @property
    def box_pooler(self):
        """The detector's box ``MultiScaleRoIAlign``."""
        return self.model.roi_heads.box_roi_pool

    @property
    def map_names(self) -> List[str]:
        """Names of the FPN maps the box pooler reads, finest first."""
        return list(self.box_pooler.featmap_names)

    @torch.no_grad()
    def feature_maps(self, image: Tensor) -> Tuple[List[Tensor], Tuple[int, int]]:
        """The frozen backbone's maps of one image, as the box pooler reads them.

        Returns ``(maps, size)``: ``maps`` one ``[C, H_l, W_l]`` tensor per
        :attr:`map_names` (the image padded to the detector's size divisor, alone in its
        batch, as :meth:`extract` sees it), ``size`` the ``(height, width)`` the image was
        resized to (boxes map to it by :func:`resize_boxes`).
        """
        image_list, features, _ = self.model.image_features([image.to(self.device)])
        return ([features[n][0] for n in self.map_names],
                tuple(int(v) for v in image_list.image_sizes[0]))

    @property
    def map_channels(self) -> int:
        """Channels of the FPN maps."""
        return int(self.model.backbone.out_channels)

    @property
    def pooler_sampling_ratio(self) -> int:
        return int(self.box_pooler.sampling_ratio)

    @property
    def detections_per_img(self) -> int:
        return int(self.model.roi_heads.detections_per_img)

    @property
    def map_scales(self) -> List[float]:
        """``1 / stride`` of each of :attr:`map_names` (torchvision's inference, from a
        64 x 64 probe)."""
        if getattr(self, "_map_scales", None) is None:
            maps, size = self.feature_maps(torch.zeros(3, 64, 64))
            self._map_scales = [2.0 ** round(math.log2(m.shape[-1] / size[1])) for m in maps]
        return self._map_scales

    def relation_feature_extractors(self, all_levels: bool = True, spatial: bool = True
                                    ) -> Tuple[BoxFeatureExtractor, UnionFeatureExtractor]:
        """SGB's trainable box and union feature extractors on this detector's maps, their
        ``fc6`` / ``fc7`` initialised from its box head (``all_levels`` / ``spatial``: see
        :class:`~pyg_sgg.nn.UnionFeatureExtractor`)."""
        res = int(self.box_pooler.output_size[0])
        args = (self.map_channels, res, self.map_scales, self.feature_dim,
                self.pooler_sampling_ratio)
        box = BoxFeatureExtractor(*args).load_box_head(self.model.roi_heads.box_head)
        union = UnionFeatureExtractor(*args, all_levels=all_levels, spatial=spatial)
        union.load_box_head(self.model.roi_heads.box_head)
        return box, union
