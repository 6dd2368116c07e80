"""The :class:`~pyg_sgg.detection.base.Detector` of a frozen detectron2
:class:`~.meta_arch.JointGeneralizedRCNN` — the interface the torchvision backend serves
(``extract``, ``detect``, FPN maps and trainable relation feature extractors, COCO mask
logits), so every scene graph model and method runs unchanged on detectron2 features."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.detection.base import Detector, ImageFeatures
from pyg_sgg.nn.box_feature_extractor import BoxFeatureExtractor
from pyg_sgg.nn.box_geometry import pair_union_boxes
from pyg_sgg.nn.union_feature_extractor import UnionFeatureExtractor

from .labels import from_detectron2_classes, from_detectron2_logits

__all__ = ["Detectron2Detector", "Detectron2Inference", "build_detectron2_detector",
           "resized_shape", "model_input"]


def resized_shape(h: int, w: int, min_size: int, max_size: int) -> Tuple[int, int]:
    """detectron2's ``ResizeShortestEdge`` output size; ``min_size`` 0 keeps ``(h, w)``."""
    if min_size <= 0:
        return h, w
    from detectron2.data.transforms import ResizeShortestEdge
    return ResizeShortestEdge.get_output_shape(h, w, min_size, max_size)


def model_input(image: Tensor, min_size: int, max_size: int, image_format: str,
                device) -> Tensor:
    """A ``[3, H, W]`` RGB ``[0, 1]`` image as detectron2 models read it: resized as
    :func:`resized_shape`, in 0..255, channels in ``image_format`` order."""
    h, w = (int(v) for v in image.shape[-2:])
    x = image.to(device, torch.float32)
    size = resized_shape(h, w, min_size, max_size)
    if size != (h, w):
        x = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]
    x = x * 255.0
    return x.flip(0) if image_format == "BGR" else x


class Detectron2Detector(Detector):
    """Serves a frozen :class:`~.meta_arch.JointGeneralizedRCNN` (``eval``, no gradients).

    Args:
        model (JointGeneralizedRCNN): the trained detector.
        min_size_test (int), max_size_test (int): test-time resize (``INPUT.MIN_SIZE_TEST``,
            ``INPUT.MAX_SIZE_TEST``; 0 keeps the native size). (default: ``0``, ``1333``)
        image_format (str): the model's ``INPUT.FORMAT`` (``"RGB"`` or ``"BGR"``).
        masks (bool): return COCO mask logits ``[N, K, 28, 28]``. (default: when the model
            has a mask head)
        pair_features (bool): compute union-box features of every ordered pair.
        detections_per_img (int, optional): cap for :meth:`detect`.
    """

    def __init__(self, model: nn.Module, min_size_test: int = 0, max_size_test: int = 1333,
                 image_format: str = "RGB", masks: Optional[bool] = None,
                 pair_features: bool = True, detections_per_img: Optional[int] = None):
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        heads = model.roi_heads
        self.heads = heads
        self.min_size_test, self.max_size_test = int(min_size_test), int(max_size_test)
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"Detectron2Detector: image_format must be 'RGB' or 'BGR', got "
                             f"{image_format!r}")
        self.image_format = image_format
        self.masks = heads.has_masks if masks is None else bool(masks)
        if self.masks and not heads.has_masks:
            raise ValueError("Detectron2Detector: masks=True needs a model with a mask head")
        self.with_pairs = bool(pair_features)
        if detections_per_img is not None:
            heads.box_predictor.test_topk_per_image = int(detections_per_img)
        self.feature_dim = int(heads.box_head.output_shape.channels)
        self.pair_feature_dim = self.feature_dim
        self.num_classes = int(heads.num_vg_classes)
        self.num_mask_classes = int(heads.num_mask_classes)

    # ------------------------------------------------------------------ properties
    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def detections_per_img(self) -> int:
        return int(self.heads.box_predictor.test_topk_per_image)

    @property
    def map_names(self) -> List[str]:
        """The FPN maps the box pooler reads, finest first (``p3``, ``p4`` ...)."""
        return list(self.heads.box_in_features)

    @property
    def map_scales(self) -> List[float]:
        shapes = self.model.backbone.output_shape()
        return [1.0 / shapes[n].stride for n in self.map_names]

    @property
    def map_channels(self) -> int:
        return int(self.model.backbone.output_shape()[self.map_names[0]].channels)

    @property
    def pooler_sampling_ratio(self) -> int:
        return int(self.heads.box_pooler.level_poolers[0].sampling_ratio)

    @property
    def pooler_aligned(self) -> bool:
        return bool(self.heads.box_pooler.level_poolers[0].aligned)

    # ------------------------------------------------------------------ images
    def _images(self, images: List[Tensor]):
        """``(ImageList, features, original sizes, resized sizes)`` of RGB ``[0, 1]`` images."""
        orig = [tuple(int(v) for v in img.shape[-2:]) for img in images]
        inputs = [{"image": model_input(img, self.min_size_test, self.max_size_test,
                                        self.image_format, self.device)} for img in images]
        image_list = self.model.preprocess_image(inputs)
        features = self.model.backbone(image_list.tensor)
        return image_list, features, orig, [tuple(s) for s in image_list.image_sizes]

    @staticmethod
    def _scale(boxes: Tensor, src: Tuple[int, int], dst: Tuple[int, int]) -> Tensor:
        sy, sx = dst[0] / src[0], dst[1] / src[1]
        return boxes * boxes.new_tensor([sx, sy, sx, sy])

    def _describe(self, features: Dict[str, Tensor], orig, sizes, boxes: List[Tensor],
                  labels: List[Tensor], scores: List[Tensor],
                  pair_features: Optional[bool]) -> List[ImageFeatures]:
        from detectron2.structures import Boxes
        tboxes = [self._scale(b.to(self.device, torch.float32).reshape(-1, 4), o, s)
                  for b, o, s in zip(boxes, orig, sizes)]
        counts = [b.size(0) for b in tboxes]
        roi = self.heads.box_features(features, [Boxes(b) for b in tboxes])
        logits = from_detectron2_logits(self.heads.box_predictor.cls_score(roi))
        mask = None
        if self.masks:
            maps = [features[f] for f in self.heads.mask_in_features]
            mask = self.heads.mask_head.layers(self.heads.mask_pooler(maps, [Boxes(b) for b in
                                                                              tboxes]))
        with_pairs = self.with_pairs if pair_features is None else pair_features
        if with_pairs:
            union = [pair_union_boxes(b, all_pairs(torch.tensor([b.size(0)])).to(self.device))
                     for b in tboxes]
            pair = self.heads.box_features(features, [Boxes(u) for u in union])
            pair_split = pair.split([u.size(0) for u in union])
        else:
            pair_split = [roi.new_zeros(0, self.pair_feature_dim)] * len(tboxes)
        out = []
        for i, (r, lg) in enumerate(zip(roi.split(counts), logits.split(counts))):
            out.append(ImageFeatures(
                boxes=boxes[i].to(self.device, torch.float32).reshape(-1, 4),
                labels=labels[i].to(self.device), scores=scores[i].to(self.device),
                roi_features=r, pair_features=pair_split[i], class_logits=lg,
                mask_logits=None if mask is None else mask.split(counts)[i]))
        return out

    # ------------------------------------------------------------------ Detector
    @torch.no_grad()
    def extract(self, images: List[Tensor], boxes: List[Tensor],
                labels: Optional[List[Tensor]] = None,
                pair_features: Optional[bool] = None) -> List[ImageFeatures]:
        """Features for given boxes (input-image ``xyxy`` pixels); labels default to the
        detector's argmax class, scores are 1."""
        if len(images) != len(boxes):
            raise ValueError(f"extract: {len(images)} images but {len(boxes)} box tensors")
        if not images:
            return []
        boxes = [torch.as_tensor(b, dtype=torch.float32).reshape(-1, 4) for b in boxes]
        _, features, orig, sizes = self._images(images)
        scores = [torch.ones(b.size(0)) for b in boxes]
        given = labels is not None
        if not given:
            labels = [torch.zeros(b.size(0), dtype=torch.long) for b in boxes]
        labels = [torch.as_tensor(lab, dtype=torch.long).reshape(-1) for lab in labels]
        out = self._describe(features, orig, sizes, boxes, labels, scores, pair_features)
        if not given:
            for f in out:
                if f.class_logits.numel():
                    f.labels = f.class_logits[:, 1:].argmax(1) + 1
        return out

    @torch.no_grad()
    def detect(self, images: List[Tensor],
               pair_features: Optional[bool] = None) -> List[ImageFeatures]:
        """VG detections (per-class NMS, at most :attr:`detections_per_img`) with their
        features, class logits of the final boxes and, when on, mask logits."""
        if not images:
            return []
        image_list, features, orig, sizes = self._images(images)
        proposals, _ = self.model.proposal_generator(image_list, features, None)
        instances, _ = self.heads(image_list, features, proposals, None, dataset="vg")
        boxes, labels, scores = [], [], []
        for inst, o, s in zip(instances, orig, sizes):
            b = self._scale(inst.pred_boxes.tensor, s, o)
            b[:, 0::2] = b[:, 0::2].clamp(0, o[1])
            b[:, 1::2] = b[:, 1::2].clamp(0, o[0])
            boxes.append(b)
            labels.append(from_detectron2_classes(inst.pred_classes))
            scores.append(inst.scores)
        return self._describe(features, orig, sizes, boxes, labels, scores, pair_features)

    @torch.no_grad()
    def feature_maps(self, image: Tensor) -> Tuple[List[Tensor], Tuple[int, int]]:
        """``(maps, size)``: one ``[C, H_l, W_l]`` map per :attr:`map_names` of the image
        alone in its batch, and the ``(height, width)`` it was resized to."""
        _, features, _, sizes = self._images([image])
        return [features[n][0] for n in self.map_names], sizes[0]

    def relation_feature_extractors(self, all_levels: bool = True, spatial: bool = True
                                    ) -> Tuple[BoxFeatureExtractor, UnionFeatureExtractor]:
        """SGB's trainable box and union feature extractors on this detector's maps (its
        pooler variant and level rule), ``fc6`` / ``fc7`` from its box head."""
        res = int(self.heads.box_pooler.output_size[0])
        args = (self.map_channels, res, self.map_scales, self.feature_dim,
                self.pooler_sampling_ratio)
        kw = dict(aligned=self.pooler_aligned, level_rule="detectron2")
        box = BoxFeatureExtractor(*args, **kw).load_box_head(self.heads.box_head)
        union = UnionFeatureExtractor(*args, all_levels=all_levels, spatial=spatial, **kw)
        union.load_box_head(self.heads.box_head)
        return box, union


class Detectron2Inference(nn.Module):
    """A :class:`~.meta_arch.JointGeneralizedRCNN` called as the torchvision
    :class:`~pyg_sgg.detection.JointMaskRCNN` is in evaluation (``model(images,
    dataset=...)`` -> ``[{"boxes", "labels" (1..C), "scores"[, "masks" [N, 1, H, W]]}]``),
    so :func:`pyg_sgg.detection.evaluation.evaluate_detector` scores both backends alike."""

    def __init__(self, model: nn.Module, min_size_test: int = 0, max_size_test: int = 1333,
                 image_format: str = "RGB"):
        super().__init__()
        self.model = model
        self.min_size_test, self.max_size_test = int(min_size_test), int(max_size_test)
        self.image_format = image_format
        self.num_classes = int(model.roi_heads.num_vg_classes)
        self.num_mask_classes = int(model.roi_heads.num_mask_classes)

    def forward(self, images: List[Tensor], dataset: str = "vg") -> List[Dict[str, Tensor]]:
        inputs = [{"image": model_input(img, self.min_size_test, self.max_size_test,
                                        self.image_format, self.model.device),
                   "height": int(img.shape[-2]), "width": int(img.shape[-1])}
                  for img in images]
        out = []
        for r in self.model.inference(inputs, dataset=dataset):
            inst = r["instances"].to("cpu")
            d = {"boxes": inst.pred_boxes.tensor, "scores": inst.scores,
                 "labels": from_detectron2_classes(inst.pred_classes)}
            if inst.has("pred_masks"):
                d["masks"] = inst.pred_masks[:, None].float()
            out.append(d)
        return out


def build_detectron2_detector(cfg, num_classes: int = 0, num_mask_classes: int = 0
                              ) -> Detectron2Detector:
    """The frozen detectron2 detector of ``cfg``: ``DETECTOR.WEIGHTS``, else the one trained
    with this config in the cache (see :func:`pyg_sgg.detection.build.build_detector_from_config`
    for the class counts' sources)."""
    from detectron2.modeling import build_model

    from pyg_sgg.checkpoint_io import load_model_state, read_checkpoint
    from pyg_sgg.detection.build import (detector_class_counts,
                                         resolve_detector_weights)

    from .config import to_detectron2_config
    weights = resolve_detector_weights(cfg)
    c, k = detector_class_counts(cfg, weights, num_classes, num_mask_classes)
    d2 = to_detectron2_config(cfg, c, k)
    model = build_model(d2)
    load_model_state(model, {"model": read_checkpoint(weights).get("model", {})}, weights)
    return Detectron2Detector(model, d2.INPUT.MIN_SIZE_TEST, d2.INPUT.MAX_SIZE_TEST,
                              d2.INPUT.FORMAT, detections_per_img=cfg.TEST.DETECTIONS_PER_IMAGE)

