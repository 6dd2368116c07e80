"""Mask R-CNN trained jointly on VG boxes and COCO masks (Seg-SG stage 1, METHODS.md §2.2).

Backbone, RPN and box head are shared; two box predictors classify the VG vocabulary
(``C + 1``) and the COCO vocabulary (``K + 1``); the mask head predicts the COCO vocabulary.
A VG batch gives RPN + VG box losses, a COCO batch RPN + COCO box + mask losses (prefixed
``coco_``). Without ``num_mask_classes`` the model is a plain Faster R-CNN on VG (box-only
variant for the EBM / HML baselines).

Built from torchvision's parts (``GeneralizedRCNNTransform``, ``RegionProposalNetwork``,
``RoIHeads``); the two ``RoIHeads`` share the box pooler and box head modules.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from torch import Tensor, nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign


class DetectorTransform(GeneralizedRCNNTransform):
    """``GeneralizedRCNNTransform`` with a separate test size; a size of 0 keeps the
    native image size (no resizing)."""

    def __init__(self, min_size, max_size, image_mean, image_std, size_divisible=32,
                 min_size_test=None):
        super().__init__(min_size, max_size, image_mean, image_std, size_divisible)
        self.min_size_test = self.min_size[-1] if min_size_test is None else int(min_size_test)

    def resize(self, image, target=None):
        size = max(self.min_size) if self.training else self.min_size_test
        if size <= 0:
            return image, target
        if self.training:
            return super().resize(image, target)
        saved, self.min_size = self.min_size, (self.min_size_test,)
        try:
            return super().resize(image, target)
        finally:
            self.min_size = saved


class JointMaskRCNN(nn.Module):
    r"""Mask R-CNN with a VG box predictor and a COCO box predictor + COCO mask head.

    Args:
        backbone (nn.Module): returns an ``OrderedDict`` of feature maps; has
            ``out_channels``.
        num_classes (int): VG object classes ``C`` (without background).
        num_mask_classes (int): COCO classes ``K`` (without background); 0 for the box-only
            variant. (default: ``0``)
        min_size (int or tuple): resize shorter side to this (a tuple samples one per image
            in training); ``0`` keeps the native size. (default: ``0``)
        min_size_test (int, optional): test-time size. (default: last of ``min_size``)
        max_size (int): cap on the longer side when resizing. (default: ``1333``)
        anchor_sizes (tuple): one tuple of sizes per feature map.
            (default: ``((16, 32), (64, 128))``)
        aspect_ratios (tuple): anchor aspect ratios. (default: ``(0.5, 1.0, 2.0)``)
        featmap_names (list, optional): feature maps the RoI poolers read.
            (default: ``"0"``, ``"1"``, ... one per anchor level)
        pooler_sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)
        representation_size (int): box head (``TwoMLPHead``) width = RoI feature size ``D``.
            (default: ``256``)
        mask_head_layers (tuple): mask head conv widths. (default: ``(64, 64)``)
        rpn_*, box_*: as torchvision's ``MaskRCNN``.
        rpn_head, box_roi_pool, box_head, box_predictor, coco_box_predictor, mask_roi_pool,
            mask_head, mask_predictor: injected parts; built from the sizes when ``None``.
    """

    def __init__(self, backbone: nn.Module, num_classes: int, num_mask_classes: int = 0, *,
                 min_size=0, max_size: int = 1333, min_size_test: Optional[int] = None,
                 image_mean: Sequence[float] = (0.485, 0.456, 0.406),
                 image_std: Sequence[float] = (0.229, 0.224, 0.225),
                 size_divisible: int = 32,
                 anchor_sizes: Sequence[Sequence[int]] = ((16, 32), (64, 128)),
                 aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
                 rpn_pre_nms_top_n_train: int = 600, rpn_pre_nms_top_n_test: int = 300,
                 rpn_post_nms_top_n_train: int = 300, rpn_post_nms_top_n_test: int = 100,
                 rpn_nms_thresh: float = 0.7, rpn_fg_iou_thresh: float = 0.7,
                 rpn_bg_iou_thresh: float = 0.3, rpn_batch_size_per_image: int = 256,
                 rpn_positive_fraction: float = 0.5,
                 featmap_names: Optional[Sequence[str]] = None,
                 box_pooler_resolution: int = 7, pooler_sampling_ratio: int = 2,
                 representation_size: int = 256,
                 box_score_thresh: float = 0.05, box_nms_thresh: float = 0.5,
                 box_detections_per_img: int = 50, box_fg_iou_thresh: float = 0.5,
                 box_bg_iou_thresh: float = 0.5, box_batch_size_per_image: int = 128,
                 box_positive_fraction: float = 0.25, mask_pooler_resolution: int = 14,
                 mask_head_layers: Sequence[int] = (64, 64),
                 rpn_head: Optional[nn.Module] = None, box_roi_pool: Optional[nn.Module] = None,
                 box_head: Optional[nn.Module] = None,
                 box_predictor: Optional[nn.Module] = None,
                 coco_box_predictor: Optional[nn.Module] = None,
                 mask_roi_pool: Optional[nn.Module] = None,
                 mask_head: Optional[nn.Module] = None,
                 mask_predictor: Optional[nn.Module] = None):
        super().__init__()
        self.num_classes = int(num_classes)
        self.num_mask_classes = int(num_mask_classes)
        self.representation_size = int(representation_size)
        out_ch = backbone.out_channels
        self.backbone = backbone
        self.transform = DetectorTransform(min_size, max_size, list(image_mean),
                                           list(image_std), size_divisible, min_size_test)
        anchor_sizes = tuple(tuple(int(s) for s in sz) for sz in anchor_sizes)
        anchor_gen = AnchorGenerator(anchor_sizes,
                                     (tuple(float(a) for a in aspect_ratios),) * len(anchor_sizes))
        if rpn_head is None:
            rpn_head = RPNHead(out_ch, anchor_gen.num_anchors_per_location()[0])
        self.rpn = RegionProposalNetwork(
            anchor_gen, rpn_head, rpn_fg_iou_thresh, rpn_bg_iou_thresh,
            rpn_batch_size_per_image, rpn_positive_fraction,
            dict(training=rpn_pre_nms_top_n_train, testing=rpn_pre_nms_top_n_test),
            dict(training=rpn_post_nms_top_n_train, testing=rpn_post_nms_top_n_test),
            rpn_nms_thresh)
        names = list(featmap_names or [str(i) for i in range(len(anchor_sizes))])
        if box_roi_pool is None:
            box_roi_pool = MultiScaleRoIAlign(names, box_pooler_resolution, pooler_sampling_ratio)
        if box_head is None:
            box_head = TwoMLPHead(out_ch * box_pooler_resolution ** 2, representation_size)
        if box_predictor is None:
            box_predictor = FastRCNNPredictor(representation_size, num_classes + 1)
        box_args = (box_fg_iou_thresh, box_bg_iou_thresh, box_batch_size_per_image,
                    box_positive_fraction, None, box_score_thresh, box_nms_thresh,
                    box_detections_per_img)
        self.roi_heads = RoIHeads(box_roi_pool, box_head, box_predictor, *box_args)
        self.coco_roi_heads = None
        if self.num_mask_classes > 0:
            if coco_box_predictor is None:
                coco_box_predictor = FastRCNNPredictor(representation_size,
                                                       num_mask_classes + 1)
            if mask_roi_pool is None:
                mask_roi_pool = MultiScaleRoIAlign(names, mask_pooler_resolution, pooler_sampling_ratio)
            if mask_head is None:
                mask_head = MaskRCNNHeads(out_ch, list(mask_head_layers), 1)
            if mask_predictor is None:
                mask_predictor = MaskRCNNPredictor(mask_head_layers[-1], mask_head_layers[-1],
                                                   num_mask_classes + 1)
            # shares box_roi_pool and box_head with the VG heads
            self.coco_roi_heads = RoIHeads(box_roi_pool, box_head, coco_box_predictor,
                                           *box_args, mask_roi_pool=mask_roi_pool,
                                           mask_head=mask_head, mask_predictor=mask_predictor)

    @property
    def mask_on(self) -> bool:
        return self.coco_roi_heads is not None

    # ------------------------------------------------------------------ training / inference
    def forward(self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None,
                dataset: str = "vg"):
        """Losses (training) or per-image detections (eval) for one dataset's batch.

        Args:
            images: ``[3, H, W]`` floats in ``[0, 1]``.
            targets: per image ``boxes [G, 4]``, ``labels [G]`` (+ ``masks [G, H, W]`` for
                COCO); required in training.
            dataset: ``"vg"`` (VG box head) or ``"coco"`` (COCO box + mask heads).

        Returns:
            ``dict`` of losses (COCO ones prefixed ``coco_``) in training, else a list of
            ``{"boxes", "labels", "scores"[, "masks"]}`` in input-image pixels.
        """
        if dataset not in ("vg", "coco"):
            raise ValueError(f"JointMaskRCNN: dataset must be 'vg' or 'coco', got {dataset!r}")
        if dataset == "coco" and not self.mask_on:
            raise ValueError("JointMaskRCNN: dataset='coco' needs num_mask_classes > 0")
        if self.training and targets is None:
            raise ValueError("JointMaskRCNN: targets are required in training")
        heads = self.roi_heads if dataset == "vg" else self.coco_roi_heads
        original_sizes = [tuple(img.shape[-2:]) for img in images]
        image_list, targets = self.transform(images, targets)
        features = self.backbone(image_list.tensors)
        proposals, rpn_losses = self.rpn(image_list, features, targets)
        detections, det_losses = heads(features, proposals, image_list.image_sizes, targets)
        if self.training:
            losses = {**rpn_losses, **det_losses}
            if dataset == "coco":
                losses = {f"coco_{k}": v for k, v in losses.items()}
            return losses
        return self.transform.postprocess(detections, image_list.image_sizes, original_sizes)

    # ------------------------------------------------------------------ features for SGG
    def image_features(self, images: List[Tensor]) -> Tuple[ImageList, Dict[str, Tensor],
                                                              List[Tuple[int, int]]]:
        """Backbone maps of a batch: ``(image_list, features, original_sizes)``."""
        original_sizes = [tuple(img.shape[-2:]) for img in images]
        image_list, _ = self.transform(images)
        return image_list, self.backbone(image_list.tensors), original_sizes

    def proposals(self, image_list: ImageList, features: Dict[str, Tensor]) -> List[Tensor]:
        """RPN proposals (eval mode), in transformed-image pixels."""
        return self.rpn(image_list, features)[0]

    def roi_descriptors(self, features: Dict[str, Tensor], boxes: List[Tensor],
                        image_sizes: List[Tuple[int, int]]) -> Tensor:
        """``[ΣN, D]`` box-head features of ``boxes`` (transformed-image pixels)."""
        if sum(b.size(0) for b in boxes) == 0:
            return features[next(iter(features))].new_zeros(0, self.representation_size)
        pooled = self.roi_heads.box_roi_pool(features, boxes, image_sizes)
        return self.roi_heads.box_head(pooled)

    def class_logits(self, roi_features: Tensor) -> Tensor:
        """``[N, C + 1]`` VG classifier logits of box-head features."""
        return self.roi_heads.box_predictor.cls_score(roi_features)

    def mask_logits(self, features: Dict[str, Tensor], boxes: List[Tensor],
                    image_sizes: List[Tuple[int, int]]) -> Tensor:
        """``[ΣN, K, 28, 28]`` COCO mask logits (background channel dropped)."""
        if not self.mask_on:
            raise ValueError("JointMaskRCNN: mask logits need num_mask_classes > 0")
        heads = self.coco_roi_heads
        n = sum(b.size(0) for b in boxes)
        if n == 0:
            res = 2 * heads.mask_roi_pool.output_size[0]
            return features[next(iter(features))].new_zeros(0, self.num_mask_classes, res, res)
        x = heads.mask_predictor(heads.mask_head(heads.mask_roi_pool(features, boxes,
                                                                     image_sizes)))
        return x[:, 1:]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.backbone!r}, num_classes={self.num_classes}, "
                f"num_mask_classes={self.num_mask_classes})")
