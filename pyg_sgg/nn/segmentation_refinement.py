"""The refinement head ``f_M'`` of segmentation-grounded SGG (Khandelwal et al., ICCV'21;
METHODS.md §2.6): the scene graph model's context features of each object refine the frozen
detector's mask logits, trained on COCO images only (per-pixel BCE on the object's class
channel, detectron2's ``mask_rcnn_loss``).

``context [N, F] → Linear → [N, H]`` broadcast over the ``R × R`` grid ‖ the ``R × R`` pooled FPN
map → ``conv3×3 / 2 + ReLU`` (the authors' ``segmentation_reducer``) → ``num_conv`` ×
``conv3×3 + ReLU`` → ``deconv ×2 + ReLU`` → ``conv1×1`` to ``K`` classes (initialised to 0),
added to ``logit(σ(frozen logits))``: at initialisation the refined masks are the frozen ones.

Two options of seed 002 (the loss survey; neither is in the Seg-SG authors' code):

* ``head="polar"``: a polar-contour head (PolarMask): the half-resolution features, average
  pooled to 7 × 7, give through one linear layer (initialised to 0) a centre shift and ``n``
  log-scale factors of the rays of the frozen mask's own contour (its class channel, > 0.5):
  ``centre = c_frozen + Δc``, ``rays = d_frozen · exp(Δd)``; the mask is assembled from the
  rays (:func:`~pyg_sgg.nn.polar_contour.rasterize_polar`), trained with the Polar IoU loss.
* ``embedding_dim > 0``: a 1 × 1 convolution of the full-resolution features to per-pixel
  embeddings, trained with the discriminative loss over the instances inside each box (the
  masks themselves stay per-pixel).
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import roi_align

from .polar_contour import polar_targets, rasterize_polar
from .roi_pooler import RoIPooler

__all__ = ["SegmentationRefinement", "mask_targets", "instance_targets", "mask_bce_loss",
           "refinement_losses"]

HEADS = ("per_pixel", "polar")


class SegmentationRefinement(nn.Module):
    r"""Residual mask refinement from context features.

    Args:
        context_channels (int): :math:`F`, the context encoder's node-state width.
        in_channels (int): FPN channels :math:`C`.
        num_mask_classes (int): :math:`K` (the COCO vocabulary of the detector's mask head).
        scales (Sequence[float]): ``1 / stride`` of each FPN map, finest first.
        hidden_channels (int): :math:`H` (256 in the authors' code). (default: ``256``)
        num_conv (int): 3×3 convolutions at half resolution (4: the authors'). (default: ``4``)
        resolution (int): :math:`R`, the pooled and refined mask size. (default: ``28``)
        sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)
        head (str): ``"per_pixel"`` (the authors') or ``"polar"``. (default: ``"per_pixel"``)
        num_rays (int): rays of the polar head. (default: ``36``)
        embedding_dim (int): per-pixel embedding width for the discriminative loss; ``0``:
            none. (default: ``0``)

    Shapes:
        - **input:** ``context`` :math:`(N, F)`, ``maps`` list of :math:`(B, C, H_l, W_l)`,
          ``boxes`` :math:`(N, 4)` (the maps' image pixels), ``batch`` :math:`(N)`,
          ``mask_logits`` :math:`(N, K, R, R)` (the frozen mask head's)
          and, for the polar head, ``labels`` :math:`(N)` in ``1..K``
        - **output:** refined logits :math:`(N, K, R, R)` (the polar head: its contour's
          logits in every channel); with ``return_embeddings`` also :math:`(N, D, R, R)`
    """

    def __init__(self, context_channels: int, in_channels: int, num_mask_classes: int,
                 scales: Sequence[float], hidden_channels: int = 256, num_conv: int = 4,
                 resolution: int = 28, sampling_ratio: int = 2, head: str = "per_pixel",
                 num_rays: int = 36, embedding_dim: int = 0):
        super().__init__()
        if resolution % 2:
            raise ValueError(f"SegmentationRefinement: resolution must be even, got "
                             f"{resolution}")
        if head not in HEADS:
            raise ValueError(f"SegmentationRefinement: head must be one of {HEADS}, got "
                             f"{head!r}")
        self.head, self.num_rays, self.embedding_dim = head, int(num_rays), int(embedding_dim)
        H, C = int(hidden_channels), int(in_channels)
        self.context_channels, self.in_channels = int(context_channels), C
        self.num_mask_classes, self.resolution = int(num_mask_classes), int(resolution)
        self.pooler = RoIPooler(resolution, scales, sampling_ratio)
        self.context = nn.Linear(self.context_channels, H)
        self.reducer = nn.Conv2d(H + C, H, 3, stride=2, padding=1)
        self.convs = nn.ModuleList(nn.Conv2d(H, H, 3, padding=1) for _ in range(num_conv))
        self.deconv = nn.ConvTranspose2d(H, H, 2, stride=2)
        self.predictor = nn.Conv2d(H, self.num_mask_classes, 1)
        self.polar = None
        if head == "polar":
            self.polar = nn.Sequential(nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                                       nn.Linear(H * 49, 2 + self.num_rays))
        self.embed = nn.Conv2d(H, self.embedding_dim, 1) if self.embedding_dim > 0 else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan out) convolutions with zero bias as detectron2's mask head,
        the predictor at 0 (the authors' ``SGSceneGraphMaskHead``)."""
        for m in [self.reducer, *self.convs, self.deconv]:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        self.context.reset_parameters()
        nn.init.zeros_(self.predictor.weight)
        nn.init.zeros_(self.predictor.bias)
        if self.polar is not None:  # the frozen mask's own contour at initialisation
            nn.init.zeros_(self.polar[2].weight)
            nn.init.zeros_(self.polar[2].bias)
        if self.embed is not None:
            self.embed.reset_parameters()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.context_channels}, {self.in_channels}, "
                f"classes={self.num_mask_classes}, resolution={self.resolution})")

    def _check(self, mask_logits: Tensor) -> None:
        R, K = self.resolution, self.num_mask_classes
        if mask_logits.shape[1:] != (K, R, R):
            raise ValueError(f"SegmentationRefinement: mask_logits of shape "
                             f"{list(mask_logits.shape)}, expected [N, {K}, {R}, {R}]")

    def _trunk(self, context: Tensor, maps: List[Tensor], boxes: Tensor,
               batch: Tensor) -> Tensor:
        """``[N, H, R / 2, R / 2]``: context ‖ pooled map → reducer → convolutions."""
        R = self.resolution
        pooled = self.pooler(maps, boxes, batch)
        ctx = self.context(context.to(pooled.dtype))[:, :, None, None].expand(-1, -1, R, R)
        x = F.relu(self.reducer(torch.cat([ctx, pooled], 1)))
        for conv in self.convs:
            x = F.relu(conv(x))
        return x

    def forward(self, context: Tensor, maps: List[Tensor], boxes: Tensor, batch: Tensor,
                mask_logits: Tensor, labels: Tensor = None, return_embeddings: bool = False):
        R, K = self.resolution, self.num_mask_classes
        self._check(mask_logits)
        if self.head == "polar":
            centre, rays = self.contour(context, maps, boxes, batch, mask_logits, labels)
            out = rasterize_polar(centre, rays, R)[:, None].expand(-1, K, -1, -1)
            return (out, None) if return_embeddings else out
        if boxes.size(0) == 0:
            out = mask_logits.new_zeros(0, K, R, R)
            emb = mask_logits.new_zeros(0, self.embedding_dim, R, R)
            return (out, emb) if return_embeddings else out
        h = F.relu(self.deconv(self._trunk(context, maps, boxes, batch)))
        x = self.predictor(h)
        m = torch.sigmoid(mask_logits.to(x.dtype))
        out = x + torch.log(m + 1e-8) - torch.log1p(-m + 1e-8)  # x + logit(m)
        if not return_embeddings:
            return out
        return out, (self.embed(h) if self.embed is not None else None)

    def contour(self, context: Tensor, maps: List[Tensor], boxes: Tensor, batch: Tensor,
                mask_logits: Tensor, labels: Tensor):
        """The polar head's ``centre [N, 2]`` and ``rays [N, n]`` (grid pixels): the frozen
        mask's contour (channel ``labels - 1``), moved and scaled by the head."""
        if self.polar is None:
            raise ValueError("SegmentationRefinement.contour: the head is not 'polar'")
        if labels is None:
            raise ValueError("SegmentationRefinement: the polar head needs the objects' "
                             "labels (the frozen mask of their class is its start)")
        self._check(mask_logits)
        N = boxes.size(0)
        rows = torch.arange(N, device=mask_logits.device)
        with torch.no_grad():
            frozen = mask_logits[rows, labels.long() - 1] > 0  # sigmoid > 0.5
            c0, d0 = polar_targets(frozen, self.num_rays)
        if N == 0:
            return c0, d0
        delta = self.polar(self._trunk(context, maps, boxes, batch))
        return c0.to(delta.dtype) + delta[:, :2], d0.to(delta.dtype) * delta[:, 2:].exp()


def mask_targets(masks: Tensor, boxes: Tensor, resolution: int = 28) -> Tensor:
    """``[N, R, R]`` binary targets: each object's full-image mask ``[N, H, W]`` cropped to its
    box ``[N, 4]`` (image pixels) and resized, as detectron2's ``crop_and_resize``."""
    if boxes.size(0) == 0:
        return masks.new_zeros(0, resolution, resolution, dtype=torch.float32)
    rois = torch.cat([torch.arange(boxes.size(0), dtype=boxes.dtype)[:, None], boxes], 1)
    out = roi_align(masks[:, None].float(), rois.float(), (resolution, resolution), 1.0,
                    sampling_ratio=0, aligned=True)
    return (out[:, 0] >= 0.5).float()


def instance_targets(masks: Tensor, boxes: Tensor, resolution: int = 28) -> Tensor:
    """``[N, R, R]`` instance ids inside each object's box (for the discriminative loss):
    ``1`` the object itself, ``2 + j`` the image's object ``j`` (another instance), ``0``
    background; the object wins where it overlaps another. ``masks [N, H, W]``: the image's
    instance masks, ``boxes [N, 4]`` their boxes (image pixels)."""
    N, R = boxes.size(0), int(resolution)
    if N == 0:
        return torch.zeros(0, R, R, dtype=torch.long)
    rois = torch.cat([torch.arange(N, dtype=boxes.dtype)[:, None], boxes], 1).float()
    # every mask cropped to every box: [N boxes, N masks, R, R] (N is a handful)
    crops = roi_align(masks[None].float().expand(N, -1, -1, -1), rois, (R, R), 1.0,
                      sampling_ratio=0, aligned=True)
    inside = crops >= 0.5
    eye = torch.eye(N, dtype=torch.bool)[:, :, None, None]
    ids = (torch.arange(N) + 2)[None, :, None, None].expand(N, N, 1, 1)
    other = torch.where(inside & ~eye, ids, torch.zeros_like(ids)).amax(1)  # any other one
    own = (inside & eye).any(1)
    return torch.where(own, torch.ones_like(other), other)


def mask_bce_loss(refined: Tensor, labels: Tensor, targets: Tensor) -> Tensor:
    """Mean per-pixel BCE of each object's channel ``labels [N]`` (``1..K``) of ``refined
    [N, K, R, R]`` against ``targets [N, R, R]``; a graph-connected 0 without objects (the
    authors replace a NaN of an empty batch by 0)."""
    if refined.size(0) == 0:
        return refined.sum() * 0.0
    picked = refined[torch.arange(refined.size(0), device=refined.device), labels.long() - 1]
    return F.binary_cross_entropy_with_logits(picked, targets.to(picked.dtype))


def refinement_losses(head: SegmentationRefinement, inputs, labels: Tensor,
                      mask_targets: Tensor, instance_targets: Tensor = None):
    """The head's training losses on COCO objects: ``loss_mask_segmentation`` (per-pixel
    head: :func:`mask_bce_loss`; polar head: Polar IoU of its rays against the rays of
    ``mask_targets [N, R, R]`` + the centre's L1 in grid units, objects with an empty target
    left out) and, with per-pixel embeddings, ``loss_mask_discriminative`` over
    ``instance_targets [N, R, R]`` (one graph per box). ``inputs``: the head's ``(context,
    maps, boxes, batch, mask_logits)``."""
    from ..losses.discriminative import discriminative_loss
    from ..losses.polar_iou import polar_iou_loss
    if head.head == "polar":
        centre, rays = head.contour(*inputs, labels=labels)
        c_t, d_t = polar_targets(mask_targets, head.num_rays)
        weight = (mask_targets.flatten(1).sum(1) > 0).to(rays.dtype)
        loss = polar_iou_loss(rays, d_t, weight)
        if centre.size(0):
            l1 = ((centre - c_t).abs().sum(1) * weight).sum() / weight.sum().clamp_min(1)
            loss = loss + l1 / head.resolution
        return {"loss_mask_segmentation": loss}
    logits, emb = head(*inputs, labels=labels, return_embeddings=True)
    losses = {"loss_mask_segmentation": mask_bce_loss(logits, labels, mask_targets)}
    if emb is not None:
        if instance_targets is None:
            raise ValueError("refinement_losses: the head has per-pixel embeddings but no "
                             "instance_targets were given")
        N, D, R, _ = emb.shape
        rows = emb.permute(0, 2, 3, 1).reshape(-1, D)
        roi = torch.arange(N, device=emb.device).repeat_interleave(R * R)
        losses["loss_mask_discriminative"] = discriminative_loss(
            rows, instance_targets.reshape(-1), roi)["loss"]
    return losses
