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
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..data.scene_graph import all_pairs, node_counts, pair_labels
from ..nn.box_geometry import box_geometry
from ..nn.context.base import CONTEXT_REGISTRY, ContextEncoder
from ..nn.relation_head import RelationHead
from .losses import tree_score_loss
from .output import SGGOutput
from .pair_sampler import sample_pairs, select_edges
from .sgdet_targets import overlap_mask, sgdet_targets

logger = logging.getLogger(__name__)

MODES = ("predcls", "sgcls", "sgdet")


def build_context(name: str, in_channels: int, hidden_channels: int, num_classes: int,
                  **options) -> Optional[torch.nn.Module]:
    """``CONTEXT_REGISTRY.get(name)(in_channels, hidden_channels, num_classes, **options)``
    (``"none"`` → ``None``, the frequency-bias baseline)."""
    if name.lower() == "none":
        return None
    return CONTEXT_REGISTRY.get(name)(in_channels, hidden_channels, num_classes, **options)


def context_options(name: str, *, embed_dim: int = 200, dropout: float = 0.1,
                    class_embeddings: Optional[Tensor] = None,
                    edge_channels: Optional[int] = None, num_obj_layers: int = 1,
                    num_edge_layers: int = 1, order: str = "leftright",
                    num_iterations: int = 3, aggr: str = "mean",
                    heads: int = 8) -> Dict:
    """The constructor options of the built-in encoder ``name``, picked from these settings
    (a user-registered encoder gets ``dropout`` only; pass its own options to
    :meth:`SceneGraphModel.build` directly)."""
    name = name.lower()
    out = dict(dropout=dropout)
    if name in ("motifs", "vctree", "transformer"):
        out.update(embed_dim=embed_dim, class_embeddings=class_embeddings)
    if name == "motifs":
        out.update(order=order, num_obj_layers=num_obj_layers,
                   num_edge_layers=num_edge_layers)
    elif name == "transformer":
        out.update(num_obj_layers=num_obj_layers, num_edge_layers=num_edge_layers,
                   heads=heads)
    elif name == "imp":
        out.update(num_iterations=num_iterations, aggr=aggr, edge_channels=edge_channels)
    return out


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
        relation_head (RelationHead): scores pairs from the context states.
        num_classes (int): object classes including background, :math:`C + 1`.
        freq_bias_soft (bool): look the frequency bias up by predicted distributions in
            SGCls / SGDet. (default: :obj:`False`)
        pairs_per_image (int): training pairs per image (``<= 0``: all). (default: ``256``)
        positive_fraction (float): cap on the positive share. (default: ``0.25``)
        require_overlap (bool): SGDet test pairs must overlap. (default: :obj:`True`)
        sgdet_iou_threshold (float): SGDet target matching IoU. (default: ``0.5``)
    """

    def __init__(self, *, mode: str, context: Optional[torch.nn.Module],
                 relation_head: RelationHead, num_classes: int,
                 freq_bias_soft: bool = False, pairs_per_image: int = 256,
                 positive_fraction: float = 0.25, require_overlap: bool = True,
                 sgdet_iou_threshold: float = 0.5):
        super().__init__()
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

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, *, mode: str, context: str, num_classes: int, num_predicates: int,
              feature_dim: int, pair_feature_dim: int = 0, hidden_dim: int = 256,
              pooling_dim: int = 512, dropout: float = 0.1, use_freq_bias: bool = True,
              pred_dist: Optional[Tensor] = None, use_union_features: bool = True,
              use_pair_geometry: bool = True, context_options: Optional[Dict] = None,
              **model_kwargs) -> "SceneGraphModel":
        """Assemble encoder and head from plain arguments (see :meth:`from_config`);
        ``context_options`` go to the encoder's constructor as they are."""
        encoder = build_context(context, feature_dim, hidden_dim, num_classes,
                                **(context_options or {}))
        if encoder is None:
            node_channels, edge_state_channels = 0, None
            use_union_features = use_pair_geometry = False  # pure frequency baseline
        else:
            node_channels, edge_state_channels = encoder.out_channels, encoder.edge_out_channels
        head = RelationHead(
            node_channels, num_predicates, num_classes, hidden_channels=pooling_dim,
            edge_channels=pair_feature_dim if use_union_features and pair_feature_dim else None,
            edge_state_channels=edge_state_channels, use_geometry=use_pair_geometry,
            use_freq_bias=use_freq_bias, pred_dist=pred_dist, dropout=dropout)
        return cls(mode=mode, context=encoder, relation_head=head, num_classes=num_classes,
                   **model_kwargs)

    @classmethod
    def from_config(cls, cfg, statistics: Optional[dict] = None, *,
                    feature_dim: Optional[int] = None, pair_feature_dim: Optional[int] = None,
                    class_names: Optional[Sequence[str]] = None) -> "SceneGraphModel":
        """Build from ``cfg.MODEL.SGG`` (:func:`~pyg_sgg.models.config.add_sgg_model_config`)
        and ``cfg.SGG.TASK``.

        Args:
            cfg (CfgNode): the config.
            statistics (dict, optional): :func:`pyg_sgg.data.statistics.get_statistics`
                output (``pred_dist`` initialises the frequency bias; its shape gives the
                class counts when the config leaves them 0).
            feature_dim (int, optional): ``batch.x`` width (else ``FEATURE_DIM``).
            pair_feature_dim (int, optional): ``batch.edge_attr`` width (else
                ``PAIR_FEATURE_DIM``).
            class_names (list[str], optional): object class names (with background) for
                the class-name embeddings; default the statistics' ``obj_classes``; the
                encoders' own random init if neither is given.
        """
        c = cfg.MODEL.SGG
        mode = cfg.SGG.TASK if "SGG" in cfg and "TASK" in cfg.SGG else "predcls"
        pred_dist = None
        num_classes, num_predicates = c.NUM_OBJ_CLASSES, c.NUM_PREDICATES
        if statistics is not None and statistics.get("pred_dist") is not None:
            pred_dist = torch.as_tensor(np.asarray(statistics["pred_dist"]),
                                        dtype=torch.float32)
            num_classes = num_classes or pred_dist.size(0)
            num_predicates = num_predicates or pred_dist.size(2)
        if not num_classes or not num_predicates:
            raise ValueError("SceneGraphModel: MODEL.SGG.NUM_OBJ_CLASSES "
                             "/ NUM_PREDICATES are 0 and no statistics were given")
        feature_dim = feature_dim or c.FEATURE_DIM
        pair_feature_dim = pair_feature_dim if pair_feature_dim is not None \
            else c.PAIR_FEATURE_DIM
        if c.CONTEXT.lower() != "none" and not feature_dim:
            raise ValueError("SceneGraphModel: MODEL.SGG.FEATURE_DIM is 0 "
                             "and no feature_dim was given")
        if class_names is None and statistics is not None:
            class_names = statistics.get("obj_classes")
        class_embeddings = None
        if class_names is not None and c.CONTEXT.lower() != "none":
            from ..data.word_embeddings import class_name_embeddings
            class_embeddings = class_name_embeddings(
                class_names, dim=c.EMBED_DIM, glove_file=c.GLOVE_FILE or None,
                source=c.WORD_EMBEDDINGS)
        transformer, is_tf = c.TRANSFORMER, c.CONTEXT.lower() == "transformer"
        return cls.build(
            mode=mode, context=c.CONTEXT, num_classes=num_classes,
            num_predicates=num_predicates, feature_dim=feature_dim,
            pair_feature_dim=pair_feature_dim, hidden_dim=c.HIDDEN_DIM,
            pooling_dim=c.POOLING_DIM, dropout=c.DROPOUT,
            use_freq_bias=c.USE_FREQ_BIAS, pred_dist=pred_dist,
            use_union_features=c.USE_UNION_FEATURES, use_pair_geometry=c.USE_PAIR_GEOMETRY,
            context_options=context_options(
                c.CONTEXT, embed_dim=c.EMBED_DIM, dropout=c.DROPOUT,
                class_embeddings=class_embeddings,
                edge_channels=pair_feature_dim if c.USE_UNION_FEATURES else None,
                num_obj_layers=transformer.OBJ_LAYERS if is_tf else c.OBJ_LAYERS,
                num_edge_layers=transformer.EDGE_LAYERS if is_tf else c.EDGE_LAYERS,
                order=c.OBJ_ORDER, num_iterations=c.IMP.NUM_ITER, aggr=c.IMP.AGGR,
                heads=transformer.NUM_HEADS),
            freq_bias_soft=c.FREQ_BIAS_SOFT, pairs_per_image=c.PAIRS_PER_IMAGE,
            positive_fraction=c.POSITIVE_FRACTION, require_overlap=c.REQUIRE_OVERLAP,
            sgdet_iou_threshold=c.SGDET_IOU_THRESHOLD)

    # ------------------------------------------------------------------ batch preparation
    def prepare_batch(self, batch, generator: Optional[torch.Generator] = None):
        """Candidate pairs and targets for this mode, in place; returns ``batch``.

        * no ``edge_index``: all ordered pairs (only valid without union features);
        * ``edge_label`` from the GT relations (PredCls / SGCls) or by IoU matching
          (SGDet training, also sets ``node_target``);
        * training: sample ``pairs_per_image`` pairs per image (``positive_fraction``);
        * SGDet test: keep overlapping pairs only (``require_overlap``).

        Idempotent in eval mode. ``generator`` drives the random choices.
        """
        if batch.get("edge_index") is None:
            batch.edge_index = all_pairs(node_counts(batch), batch.ptr)
        if self.mode == "sgdet":
            if self.training:
                sgdet_targets(batch, self.sgdet_iou_threshold, generator)
            else:
                if self.require_overlap:
                    select_edges(batch, overlap_mask(batch))
                if batch.get("edge_label") is None:
                    batch.edge_label = batch.edge_index.new_zeros(batch.edge_index.size(1))
        elif self.training or batch.get("edge_label") is None:
            batch.edge_label = pair_labels(batch.edge_index, batch.gt_rel_index,
                                           batch.gt_rel_label, batch.num_nodes,
                                           generator if self.training else None)
        if self.training and self.pairs_per_image > 0:
            edge_graph = batch.batch[batch.edge_index[0]]
            mask = sample_pairs(edge_graph, batch.edge_label, batch.num_graphs,
                                self.pairs_per_image, self.positive_fraction, generator)
            select_edges(batch, mask)
        return batch

    # ------------------------------------------------------------------ forward
    def forward(self, batch) -> SGGOutput:
        x, edge_index = batch.x, batch.edge_index
        num_nodes = x.size(0)
        node_graph = batch.get("batch")
        if node_graph is None:
            node_graph = edge_index.new_zeros(num_nodes)
        pos = box_geometry(batch.boxes, batch.image_size[node_graph])
        edge_attr = batch.get("edge_attr")

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

        ctx = None
        if self.context is not None:
            kwargs = {}
            if getattr(self.context, "uses_edge_attr", False):
                kwargs["edge_attr"] = edge_attr
            ctx = self.context(x, pos, obj_dist, edge_index, node_graph,
                               obj_labels=enc_labels, **kwargs)

        if self.mode == "predcls":
            obj_logits = ContextEncoder.onehot_logits(obj_dist)
            obj_labels, obj_scores = labels, x.new_ones(num_nodes)
            bias_labels, bias_dist = labels, None
        else:
            obj_logits = ctx.obj_logits if ctx is not None else batch.det_logits.to(x.dtype)
            probs = torch.softmax(obj_logits, dim=-1)
            obj_scores, obj_labels = probs[:, 1:].max(dim=-1)
            obj_labels = obj_labels + 1
            bias_labels, bias_dist = (None, probs) if self.freq_bias_soft else (obj_labels, None)

        node_states = ctx.node_states if ctx is not None else x.new_zeros(num_nodes, 0)
        rel_logits = self.relation_head(
            node_states, edge_index, edge_attr=edge_attr, pos=pos, obj_labels=bias_labels,
            obj_dist=bias_dist, edge_states=ctx.edge_states if ctx is not None else None)

        extras = {}
        if self.training and ctx is not None and ctx.pair_scores is not None:
            # VCTree's supervised tree scores: related pairs = positive candidate pairs
            # (IoU-matched in SGDet), else the annotated ones.
            label = batch.get("edge_label")
            related = (edge_index[:, label > 0] if label is not None
                       else batch.gt_rel_index)
            extras["loss_tree"] = tree_score_loss(ctx.pair_scores, related)
        if obj_target is not None:
            extras["obj_target"] = obj_target
        if ctx is not None:
            extras["node_states"] = ctx.node_states
            if ctx.edge_states is not None:
                extras["edge_states"] = ctx.edge_states
        return SGGOutput(obj_logits=obj_logits, rel_logits=rel_logits, obj_labels=obj_labels,
                         obj_scores=obj_scores, node_features=x, extras=extras)

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
        B = batch.num_graphs
        ptr = batch.ptr
        node_graph = batch.batch

        def counts_ptr(graph: Tensor) -> Tensor:
            counts = torch.bincount(graph, minlength=B)
            return torch.cat([counts.new_zeros(1), counts.cumsum(0)])

        if self.mode == "sgdet":
            num_gt = batch["num_gt"].long().reshape(-1)
            gt_obj_ptr = torch.cat([num_gt.new_zeros(1), num_gt.cumsum(0)])
            gt_boxes, gt_labels = batch["gt_boxes"], batch["gt_labels"]
            gt_rels = batch["gt_triplets"].long().reshape(-1, 3)
            gt_rel_ptr = batch._slice_dict["gt_triplets"]
        else:
            gt_obj_ptr, gt_boxes, gt_labels = ptr, batch.boxes, batch.labels
            rel_graph = node_graph[batch.gt_rel_index[0]]
            local = batch.gt_rel_index - ptr[rel_graph]
            gt_rels = torch.cat([local.t(), batch.gt_rel_label.view(-1, 1)], dim=1)
            gt_rel_ptr = counts_ptr(rel_graph)

        edge_graph = node_graph[batch.edge_index[0]]
        order = torch.argsort(edge_graph, stable=True)
        edge_graph = edge_graph[order]
        pair = (batch.edge_index[:, order] - ptr[edge_graph]).t()
        rel_scores = torch.softmax(outputs.rel_logits[order].float(), dim=-1)

        def np_(t):  # float() first: bf16 (autocast) has no numpy dtype
            if not torch.is_tensor(t):
                return np.asarray(t)
            t = t.detach().cpu()
            return (t.float() if t.is_floating_point() else t).numpy()

        return {
            "num_predicates": np.asarray(self.relation_head.num_predicates - 1),
            "gt_obj_ptr": np_(gt_obj_ptr).astype(np.int64),
            "gt_boxes": np_(gt_boxes).astype(np.float32).reshape(-1, 4),
            "gt_labels": np_(gt_labels).astype(np.int64),
            "gt_rel_ptr": np_(gt_rel_ptr).astype(np.int64),
            "gt_rels": np_(gt_rels).astype(np.int64).reshape(-1, 3),
            "pred_obj_ptr": np_(ptr).astype(np.int64),
            "pred_boxes": np_(batch.boxes).astype(np.float32).reshape(-1, 4),
            "pred_labels": np_(outputs.obj_labels).astype(np.int64),
            "pred_scores": np_(outputs.obj_scores).astype(np.float32),
            "rel_ptr": np_(counts_ptr(edge_graph)).astype(np.int64),
            "rel_pair_idx": np_(pair).astype(np.int64).reshape(-1, 2),
            "rel_scores": np_(rel_scores).astype(np.float32),
            "image_ids": np_(batch.image_id).astype(np.int64).reshape(-1),
        }
