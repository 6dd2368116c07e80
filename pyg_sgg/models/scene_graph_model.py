"""The scene graph model: detector features → context encoder → relation head.

Use from a training loop::

    model = SceneGraphModel.from_config(cfg, statistics, feature_dim=det.feature_dim,
                                        pair_feature_dim=det.pair_feature_dim)
    batch = model.prepare_batch(batch, generator)   # targets + pair sampling (training)
    out = model(batch)                              # SGGOutput
    losses = sgg_task_loss(batch, out)              # {"loss_rel", "loss_obj"}
    preds = model.predict(batch)                    # interchange dict (eval mode inside)
"""
import logging
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..nn.box_geometry import box_geometry
from ..nn.causal_relation_head import CausalRelationHead
from ..nn.context.base import ContextEncoder
from ..nn.label_nms import nms_labels
from ..nn.sgb_relation_head import SGBRelationHead
from .batch_preparation import prepare_batch
from .builder import build_encoder_and_head, build_kwargs_from_config
from .losses import tree_score_loss
from .output import SGGOutput
from .prediction import to_predictions
from .sgdet_targets import gt_fields

logger = logging.getLogger(__name__)

MODES = ("predcls", "sgcls", "sgdet")


class SceneGraphModel(torch.nn.Module):
    """Context encoder + relation head for PredCls, SGCls and SGDet.

    Consumes a :class:`~torch_geometric.data.Batch` of scene graphs carrying detector
    features (``x [N, D]``, ``edge_attr [E, D_pair]`` aligned with ``edge_index``,
    ``det_logits [N, C + 1]``, ``boxes``, ``labels``, ``image_size``) and scores exactly the
    pairs in ``batch.edge_index``. Call :meth:`prepare_batch` first (targets, training pair
    sampling, SGDet overlap filter); :meth:`predict` does it itself.

    * ``predcls``: GT labels, ``obj_scores`` 1, no object loss;
    * ``sgcls``: GT boxes, labels from the refined ``obj_logits`` (target: GT labels);
    * ``sgdet``: detections as nodes (target: IoU-matched GT labels, ``node_target``).

    Args:
        mode (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"``.
        context (torch.nn.Module, optional): an encoder with the call contract of
            :mod:`pyg_sgg.nn.context.base`; ``None`` = frequency-bias baseline.
        relation_head (torch.nn.Module): scores pairs from the context states
            (:class:`~pyg_sgg.nn.sgb_relation_head.SGBRelationHead`,
            :class:`~pyg_sgg.nn.RelationHead` or
            :class:`~pyg_sgg.nn.causal_relation_head.CausalRelationHead`); SGB's two index
            the frequency bias with the encoder's committed labels
            (``ContextOutput.obj_labels``) where it has them.
        num_classes (int): object classes including background, :math:`C + 1`.
        freq_bias_soft (bool): look the frequency bias up by predicted distributions in
            SGCls / SGDet. (default: :obj:`False`)
        pairs_per_image (int): training pairs per image (``<= 0``: all). (default: ``1024``)
        positive_fraction (float): cap on the positive share. (default: ``0.25``)
        require_overlap (bool): SGDet test pairs must overlap. (default: :obj:`True`)
        sgdet_iou_threshold (float): SGDet target matching IoU. (default: ``0.5``)
        later_nms_threshold (float): SGDet at test: labels by SGB's label NMS
            (:func:`~pyg_sgg.nn.label_nms.nms_labels`, pixel IoU with SGB's ``+1``) instead
            of the argmax; scores are the chosen label's probability (``0``: argmax).
            (default: ``0.3``, SGB's ``LATER_NMS_PREDICTION_THRES``)
        box_extractor (BoxFeatureExtractor, optional): the ``trainable`` feature mode:
            ``x`` is pooled from ``batch.feature_maps`` by this trained extractor instead of
            read from ``batch.x``. (default: :obj:`None`)
        union_extractor (UnionFeatureExtractor, optional): likewise ``edge_attr`` for the
            scored pairs (with ``box_extractor``, or with a ``grounding`` built without its
            relation grounding). (default: :obj:`None`)
        grounding (SegmentationGrounding, optional): segmentation-grounded ``x`` and
            ``edge_attr`` instead of the two extractors (FPN maps + ``mask_logits`` in the
            batch). (default: :obj:`None`)
        refinement (dict, optional): with ``grounding`` and an encoder: the arguments of a
            :class:`~pyg_sgg.nn.segmentation_refinement.SegmentationRefinement` on the
            encoder's node states (all but ``context_channels``); a training batch carrying a
            COCO batch (``batch.coco``) then adds ``loss_mask_segmentation``
            (:meth:`segmentation_loss`). (default: :obj:`None`)
        refine_seg_masks (bool): at test, with a per-pixel ``refinement`` head: the
            grounding reads the refined masks (the encoder runs once on the frozen masks'
            features, the head refines the masks from its node states, then the features are
            grounded anew; the authors' ``REFINE_SEG_MASKS``, off in their README's runs).
            (default: :obj:`False`)
        effect_type (str): with a
            :class:`~pyg_sgg.nn.causal_relation_head.CausalRelationHead`, ``"tde"`` scores
            the test pairs by the total direct effect of the context (the encoder runs a
            second time on its averaged input; Motifs or VCTree), ``"none"`` by the factual
            logits.
            Training adds the head's auxiliary branch losses either way. (default: ``"none"``)
    """

    def __init__(self, *, mode: str, context: Optional[torch.nn.Module],
                 relation_head: torch.nn.Module, num_classes: int,
                 freq_bias_soft: bool = False, pairs_per_image: int = 1024,
                 positive_fraction: float = 0.25, require_overlap: bool = True,
                 sgdet_iou_threshold: float = 0.5, later_nms_threshold: float = 0.3,
                 box_extractor: Optional[torch.nn.Module] = None,
                 union_extractor: Optional[torch.nn.Module] = None,
                 grounding: Optional[torch.nn.Module] = None,
                 effect_type: str = "none", refinement: Optional[Dict] = None,
                 refine_seg_masks: bool = False):
        super().__init__()
        self.causal = isinstance(relation_head, CausalRelationHead)
        # SGB's predictors index the frequency bias with the context's committed labels
        self.bias_from_context = isinstance(relation_head,
                                            (CausalRelationHead, SGBRelationHead))
        if effect_type not in ("none", "tde"):
            raise ValueError(f"SceneGraphModel: effect_type must be 'none' or 'tde', "
                             f"got {effect_type!r}")
        if effect_type == "tde" and not (self.causal and getattr(context, "track_untreated",
                                                                  False)):
            raise ValueError("SceneGraphModel: effect_type 'tde' needs the causal predictor "
                             "(MODEL.SGG.PREDICTOR causal) and an encoder that tracks its "
                             "untreated input (MODEL.SGG.CONTEXT motifs or vctree)")
        self.effect_type = effect_type
        if union_extractor is not None and box_extractor is None and grounding is None:
            raise ValueError("SceneGraphModel: a union_extractor needs a box_extractor")
        if grounding is not None and box_extractor is not None:
            raise ValueError("SceneGraphModel: segmentation grounding replaces the box / union "
                             "extractors; give one or the other")
        if grounding is not None and getattr(grounding, "relation", True) == (
                union_extractor is not None):
            raise ValueError("SceneGraphModel: a grounding without relation grounding needs a "
                             "union_extractor for the pairs, one with it takes none")
        if mode not in MODES:
            raise ValueError(f"SceneGraphModel: mode must be one of "
                             f"{MODES}, got {mode!r}")
        self.mode = mode
        self.context = context
        self.relation_head = relation_head
        self.num_classes = num_classes
        self.freq_bias_soft = freq_bias_soft
        self.pairs_per_image = pairs_per_image
        self.positive_fraction = positive_fraction
        self.require_overlap = require_overlap
        self.sgdet_iou_threshold = sgdet_iou_threshold
        self.later_nms_threshold = later_nms_threshold
        self.box_extractor = box_extractor
        self.union_extractor = union_extractor
        self.grounding = grounding
        self.refinement = None
        if refinement is not None:
            if grounding is None or context is None:
                raise ValueError("SceneGraphModel: the refinement head needs segmentation "
                                 "grounding and a context encoder")
            from ..nn.segmentation_refinement import SegmentationRefinement
            self.refinement = SegmentationRefinement(int(context.out_channels), **refinement)
        if refine_seg_masks and (self.refinement is None or self.refinement.head != "per_pixel"):
            raise ValueError("SceneGraphModel: refine_seg_masks needs a per-pixel refinement "
                             "head (the polar head's contour needs COCO labels)")
        self.refine_seg_masks = bool(refine_seg_masks)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, *, mode: str, context: str, num_classes: int, num_predicates: int,
              feature_dim: int, pair_feature_dim: int = 0, hidden_dim: int = 256,
              pooling_dim: int = 512, dropout: float = 0.2, use_freq_bias: bool = True,
              pred_dist: Optional[Tensor] = None, use_union_features: bool = True,
              use_pair_geometry: bool = True, context_options: Optional[Dict] = None,
              predictor: str = "sgb", **model_kwargs) -> "SceneGraphModel":
        """Assemble from plain arguments: the encoder ``context`` with ``context_options``
        (:func:`~pyg_sgg.models.builder.context_options` names the built-in ones) and a
        relation head sized by its declared widths
        (:func:`~pyg_sgg.models.builder.build_encoder_and_head`); ``model_kwargs`` go to
        the constructor."""
        encoder, head = build_encoder_and_head(
            context=context, num_classes=num_classes, num_predicates=num_predicates,
            feature_dim=feature_dim, pair_feature_dim=pair_feature_dim, hidden_dim=hidden_dim,
            pooling_dim=pooling_dim, dropout=dropout, use_freq_bias=use_freq_bias,
            pred_dist=pred_dist, use_union_features=use_union_features,
            use_pair_geometry=use_pair_geometry, context_options=context_options,
            predictor=predictor)
        return cls(mode=mode, context=encoder, relation_head=head, num_classes=num_classes,
                   **model_kwargs)

    @classmethod
    def from_config(cls, cfg, statistics: Optional[dict] = None, *,
                    feature_dim: Optional[int] = None, pair_feature_dim: Optional[int] = None,
                    class_names: Optional[Sequence[str]] = None,
                    feature_extractors: Optional[Tuple[torch.nn.Module, torch.nn.Module]] = None,
                    grounding: Optional[torch.nn.Module] = None) -> "SceneGraphModel":
        """Build from ``cfg.MODEL.SGG`` and ``cfg.SGG.TASK``
        (:func:`~pyg_sgg.models.builder.build_kwargs_from_config` documents the arguments;
        ``feature_extractors``: the ``(box, union)`` extractors of the ``trainable`` mode,
        e.g. ``detector.relation_feature_extractors()``)."""
        return cls.build(**build_kwargs_from_config(
            cfg, statistics, feature_dim=feature_dim, pair_feature_dim=pair_feature_dim,
            class_names=class_names, feature_extractors=feature_extractors,
            grounding=grounding))

    # ------------------------------------------------------------------ batch preparation
    def prepare_batch(self, batch, generator: Optional[torch.Generator] = None):
        """:func:`~pyg_sgg.models.batch_preparation.prepare_batch` with this model's task,
        mode (train / eval) and pair settings; in place, returns ``batch``."""
        return prepare_batch(batch, self.mode, self.training,
                             pairs_per_image=self.pairs_per_image,
                             positive_fraction=self.positive_fraction,
                             require_overlap=self.require_overlap,
                             sgdet_iou_threshold=self.sgdet_iou_threshold,
                             generator=generator)

    # ------------------------------------------------------------------ features
    @staticmethod
    def map_boxes(batch, boxes: Tensor, graph: Tensor) -> Tensor:
        """``boxes [N, 4]`` of images ``graph [N]`` in the pixels of their FPN maps' resized
        image (``batch.map_image_size``), as the detector resizes them."""
        ratio = batch.map_image_size.float() / batch.image_size.float()  # [B, 2] (h, w)
        r = ratio[graph]
        return boxes.float() * torch.stack([r[:, 1], r[:, 0], r[:, 1], r[:, 0]], dim=1)

    def visual_features(self, batch, node_graph: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """``(x [N, D], edge_attr [E, D_u] or None)`` of the batch's nodes and scored pairs:
        read from the batch (``frozen``) or pooled by the trainable extractors."""
        if self.grounding is not None:
            return self.grounded_features(batch, node_graph)
        if self.box_extractor is None:
            if batch.get("x") is None:
                raise ValueError("SceneGraphModel: batch lacks field 'x' (RoI features); "
                                 "in the trainable feature mode build the model with the "
                                 "detector's extractors")
            return batch.x, batch.get("edge_attr")
        maps = batch.get("feature_maps")
        if maps is None:
            raise ValueError("SceneGraphModel: batch lacks field 'feature_maps' (the "
                             "trainable feature mode pools the FPN maps)")
        boxes = self.map_boxes(batch, batch.boxes, node_graph)
        x = self.box_extractor(maps, boxes, node_graph)
        edge_attr = None
        if self.union_extractor is not None:
            edge_attr = self.union_extractor(maps, boxes, batch.edge_index, node_graph,
                                             batch.map_image_size[node_graph])
        return x, edge_attr

    def grounded_features(self, batch, node_graph: Tensor,
                          mask_logits: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """:class:`~pyg_sgg.nn.SegmentationGrounding` features: the FPN maps and the
        detector's mask logits of the node boxes (``batch.mask_logits``, or the given
        refined ``mask_logits``); the kernels read one-hot GT labels in PredCls, the
        detector's class softmax otherwise."""
        for key in ("feature_maps", "mask_logits"):
            if batch.get(key) is None:
                raise ValueError(f"SceneGraphModel: batch lacks field {key!r} (segmentation "
                                 f"grounding reads the FPN maps and the detector's masks: "
                                 f"MODEL.SGG.FEATURES trainable, DETECTOR.CACHE_MASKS True)")
        boxes = self.map_boxes(batch, batch.boxes, node_graph)
        if self.mode == "predcls":
            dist = torch.nn.functional.one_hot(batch.labels.long(), self.num_classes)
        else:
            dist = torch.softmax(batch.det_logits.float(), dim=-1)
        if mask_logits is None:
            mask_logits = batch.mask_logits
        x, edge_attr = self.grounding(batch.feature_maps, boxes, node_graph, batch.edge_index,
                                      mask_logits, dist.to(boxes.dtype))
        if edge_attr is None:  # object grounding alone: plain union-box pair features
            edge_attr = self.union_extractor(batch.feature_maps, boxes, batch.edge_index,
                                             node_graph, batch.map_image_size[node_graph])
        return x, edge_attr

    def gt_features(self, batch) -> Tensor:
        """``[G, D]`` trainable-extractor features of the SGDet ground-truth boxes
        (``batch.gt_boxes``), as the EBM authors re-extract them for the positive graph."""
        gt_boxes, _, num_gt, _, _ = gt_fields(batch)
        graph = torch.repeat_interleave(torch.arange(num_gt.numel(), device=gt_boxes.device),
                                        num_gt.to(gt_boxes.device))
        boxes = self.map_boxes(batch, gt_boxes, graph)
        return self.box_extractor(batch.feature_maps, boxes, graph)

    # ------------------------------------------------------------------ forward
    def forward(self, batch) -> SGGOutput:
        edge_index = batch.edge_index
        num_nodes = int(batch.num_nodes)
        node_graph = batch.get("batch")
        if node_graph is None:
            node_graph = edge_index.new_zeros(num_nodes)
        x, edge_attr = self.visual_features(batch, node_graph)
        pos = box_geometry(batch.boxes, batch.image_size[node_graph])

        obj_target = None
        if self.mode == "predcls":
            labels = batch.labels.long()
            obj_dist = torch.nn.functional.one_hot(labels, self.num_classes).to(x.dtype)
            enc_labels = labels
        else:
            det_logits = batch.get("det_logits")
            if det_logits is None:
                raise ValueError(f"SceneGraphModel: {self.mode} batch "
                                 f"lacks field 'det_logits'")
            obj_dist = torch.softmax(det_logits.to(x.dtype), dim=-1)
            if self.mode == "sgcls":
                obj_target = batch.labels.long()
            else:
                obj_target = batch.get("node_target")
            enc_labels = obj_target if self.training else None

        mask_logits = batch.get("mask_logits") if self.grounding is not None else None
        if self.refine_seg_masks and not self.training:
            mask_logits, x, edge_attr = self._refined_grounding(
                batch, node_graph, self._encode(x, edge_attr, pos, obj_dist, edge_index,
                                                node_graph, enc_labels, batch.boxes))
        ctx = None
        if self.context is not None:
            ctx = self._encode(x, edge_attr, pos, obj_dist, edge_index, node_graph, enc_labels,
                               batch.boxes)

        if self.mode == "predcls":
            obj_logits = ContextEncoder.onehot_logits(obj_dist)
            obj_labels, obj_scores = labels, x.new_ones(num_nodes)
            bias_labels, bias_dist = labels, None
        else:
            obj_logits = ctx.obj_logits if ctx is not None else batch.det_logits.to(x.dtype)
            probs = torch.softmax(obj_logits, dim=-1)
            obj_scores, obj_labels = probs[:, 1:].max(dim=-1)
            obj_labels = obj_labels + 1
            if self.mode == "sgdet" and not self.training and self.later_nms_threshold > 0:
                obj_labels = nms_labels(probs, batch.boxes, node_graph,
                                        self.later_nms_threshold, plus_one=True)
                obj_scores = probs.gather(1, obj_labels.view(-1, 1)).view(-1)
            bias_labels, bias_dist = (None, probs) if self.freq_bias_soft else (obj_labels, None)
            if (self.bias_from_context and not self.freq_bias_soft and ctx is not None
                    and ctx.obj_labels is not None):
                bias_labels = ctx.obj_labels  # SGB's obj_preds (Motifs training: teacher-forced)

        node_states = ctx.node_states if ctx is not None else x.new_zeros(num_nodes, 0)
        extras = {}
        if self.causal:
            branches = self.relation_head.branches(node_states, edge_index, edge_attr,
                                                   bias_labels, bias_dist)
            rel_logits = branches.vis + branches.ctx + branches.frq
            if self.training:  # SGB's auxiliary_vis / ctx / frq
                extras["aux_rel_logits"] = branches._asdict()
            elif self.effect_type == "tde":
                untreated = self._encode(x, edge_attr, pos, obj_dist, edge_index, node_graph,
                                         enc_labels, batch.boxes, average_edge_input=True)
                rel_logits = self.relation_head.tde(node_states, untreated.node_states,
                                                    edge_index)
        else:
            rel_logits = self.relation_head(
                node_states, edge_index, edge_attr=edge_attr, pos=pos, obj_labels=bias_labels,
                obj_dist=bias_dist, edge_states=ctx.edge_states if ctx is not None else None)

        if self.training and ctx is not None and ctx.pair_scores is not None:
            # VCTree's supervised tree scores: related pairs = positive candidate pairs
            # (IoU-matched in SGDet), else the annotated ones.
            label = batch.get("edge_label")
            related = (edge_index[:, label > 0] if label is not None
                       else batch.gt_rel_index)
            extras["loss_tree"] = tree_score_loss(ctx.pair_scores, related)
        if obj_target is not None:
            extras["obj_target"] = obj_target
        if self.training and self.mode == "sgdet" and self.box_extractor is not None:
            extras["gt_node_features"] = self.gt_features(batch)
        if ctx is not None:
            extras["node_states"] = ctx.node_states
            if ctx.edge_states is not None:
                extras["edge_states"] = ctx.edge_states
        if self.training and self.refinement is not None and "coco" in batch:
            extras.update(self.segmentation_loss(batch.coco))
        if not self.training and mask_logits is not None:
            extras["obj_masks"] = self.grounding.class_masks(mask_logits, obj_labels)
        return SGGOutput(obj_logits=obj_logits, rel_logits=rel_logits, obj_labels=obj_labels,
                         obj_scores=obj_scores, node_features=x, extras=extras)

    def _refinement_inputs(self, coco):
        """The refinement head's inputs for a COCO batch: ``(node states, FPN maps, boxes,
        graph, frozen mask logits)``, the node states through the grounding and the context
        encoder (class distributions from
        :meth:`~pyg_sgg.nn.SegmentationGrounding.coco_class_distribution`)."""
        graph = coco.get("batch")
        if graph is None:
            graph = coco.boxes.new_zeros(coco.boxes.size(0), dtype=torch.long)
        boxes = self.map_boxes(coco, coco.boxes, graph)
        dist = self.grounding.coco_class_distribution(coco.labels).to(boxes.dtype)
        x, edge_attr = self.grounding(coco.feature_maps, boxes, graph, coco.edge_index,
                                      coco.mask_logits, dist)
        if edge_attr is None:
            edge_attr = self.union_extractor(coco.feature_maps, boxes, coco.edge_index, graph,
                                             coco.map_image_size[graph])
        pos = box_geometry(coco.boxes, coco.image_size[graph])
        ctx = self._encode(x, edge_attr, pos, dist, coco.edge_index, graph, None, coco.boxes)
        return ctx.node_states, coco.feature_maps, boxes, graph, coco.mask_logits

    def _encode(self, x, edge_attr, pos, obj_dist, edge_index, graph, obj_labels, boxes,
                **kwargs):
        """The context encoder's output (``edge_attr`` / ``boxes`` only to encoders that
        read them)."""
        if getattr(self.context, "uses_edge_attr", False):
            kwargs["edge_attr"] = edge_attr
        if getattr(self.context, "uses_boxes", False):
            kwargs["boxes"] = boxes
        return self.context(x, pos, obj_dist, edge_index, graph, obj_labels=obj_labels,
                            **kwargs)

    def _refined_grounding(self, batch, node_graph: Tensor, ctx):
        """``REFINE_SEG_MASKS`` at test: ``(refined mask logits [N, K, R, R], x, edge_attr)``,
        the refinement head on the encoder's node states ``ctx`` of the frozen masks'
        features, then the features grounded in the refined masks (the authors' second
        ``_forward_mask`` with ``residual_masks``)."""
        boxes = self.map_boxes(batch, batch.boxes, node_graph)
        refined = self.refinement(ctx.node_states, batch.feature_maps, boxes, node_graph,
                                  batch.mask_logits)
        x, edge_attr = self.grounded_features(batch, node_graph, mask_logits=refined)
        return refined, x, edge_attr

    def refined_mask_logits(self, coco) -> Tensor:
        """``[N, K, 28, 28]`` refined COCO mask logits of a COCO batch's objects: through the
        grounding and the context encoder, then the refinement head on their node states.

        ``coco`` fields: ``boxes``, ``labels`` (``1..K``), ``image_size``, ``edge_index``,
        ``batch``, ``feature_maps``, ``map_image_size``, ``mask_logits [N, K, 28, 28]``."""
        return self.refinement(*self._refinement_inputs(coco), labels=coco.labels)

    def segmentation_loss(self, coco) -> Dict[str, Tensor]:
        """The refinement head's losses on a COCO batch (Seg-SG's multi-task step):
        ``loss_mask_segmentation`` (the per-pixel head: BCE of :meth:`refined_mask_logits`
        against ``coco.mask_targets [N, 28, 28]``; the polar head: Polar IoU of its rays
        against the targets' rays + the centre's L1 in grid units) and, with per-pixel
        embeddings, ``loss_mask_discriminative`` over ``coco.instance_targets``."""
        from ..nn.segmentation_refinement import refinement_losses
        return refinement_losses(self.refinement, self._refinement_inputs(coco), coco.labels,
                                 coco.mask_targets, coco.get("instance_targets"))

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, batch, outputs: Optional[SGGOutput] = None) -> Dict[str, np.ndarray]:
        """Predictions of ``batch`` in the evaluation interchange format (numpy arrays).

        Runs :meth:`prepare_batch` and the forward in eval mode unless ``outputs`` (for
        this already prepared ``batch``) are given. ``rel_scores`` is the softmax of
        ``rel_logits`` (column 0 background); relations are in ``edge_index`` order within
        each image (not sorted by score); ``num_predicates`` is :math:`P` (foreground).
        """
        if outputs is None:
            was_training = self.training
            self.eval()
            try:
                self.prepare_batch(batch)
                outputs = self(batch)
            finally:
                self.train(was_training)
        return to_predictions(batch, outputs, self.mode,
                              self.relation_head.num_predicates - 1)
