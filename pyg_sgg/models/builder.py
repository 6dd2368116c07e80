"""Config → scene graph model: the context encoder by name with its options, the relation head
sized by the encoder's declared widths, class-name embeddings from the dataset's names."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..nn.context.registry import CONTEXT_REGISTRY
from ..nn.relation_head import RelationHead

__all__ = ["build_context", "context_options", "build_encoder_and_head",
           "build_kwargs_from_config"]


def build_context(name: str, in_channels: int, hidden_channels: int, num_classes: int,
                  **options) -> Optional[torch.nn.Module]:
    """``CONTEXT_REGISTRY.get(name)(in_channels, hidden_channels, num_classes, **options)``
    (``"none"`` → ``None``, the frequency-bias baseline)."""
    if name.lower() == "none":
        return None
    return CONTEXT_REGISTRY.get(name)(in_channels, hidden_channels, num_classes, **options)


def context_options(name: str, *, embed_dim: int = 200, dropout: float = 0.2,
                    class_embeddings: Optional[Tensor] = None,
                    edge_channels: Optional[int] = None, num_obj_layers: int = 1,
                    num_edge_layers: int = 1, order: str = "leftright",
                    num_iterations: int = 3, aggr: str = "sum",
                    heads: int = 8, key_dim: int = 64, value_dim: int = 64,
                    inner_dim: int = 2048, nms_threshold: float = 0.0,
                    track_untreated: bool = False, pred_dist: Optional[Tensor] = None,
                    pooling_dim: Optional[int] = None) -> Dict:
    """The constructor options of the built-in encoder ``name``, picked from these settings
    (a user-registered encoder gets ``dropout`` only; pass its own options to
    :meth:`SceneGraphModel.build` directly)."""
    name = name.lower()
    out = dict(dropout=dropout)
    if name in ("motifs", "vctree", "transformer"):
        out.update(embed_dim=embed_dim, class_embeddings=class_embeddings)
    if name == "motifs":
        out.update(order=order, num_obj_layers=num_obj_layers,
                   num_edge_layers=num_edge_layers, nms_threshold=nms_threshold)
    elif name == "transformer":
        out.update(num_obj_layers=num_obj_layers, num_edge_layers=num_edge_layers,
                   heads=heads, key_channels=key_dim, value_channels=value_dim,
                   inner_channels=inner_dim, nms_threshold=nms_threshold)
    elif name == "vctree":  # pred_dist: the tree scores' co-occurrence prior
        out.update(num_obj_layers=num_obj_layers, num_edge_layers=num_edge_layers,
                   pred_dist=pred_dist)
    if name in ("motifs", "vctree") and track_untreated:  # the causal predictor's TDE
        out.update(track_untreated=True)
    if name == "imp":  # SGB's IMP has no dropout
        out.update(num_iterations=num_iterations, aggr=aggr, edge_channels=edge_channels,
                   pooling_channels=pooling_dim, dropout=0.0)
    return out


def build_encoder_and_head(*, context: str, num_classes: int, num_predicates: int,
                           feature_dim: int, pair_feature_dim: int = 0, hidden_dim: int = 256,
                           pooling_dim: int = 512, dropout: float = 0.2,
                           use_freq_bias: bool = True, pred_dist: Optional[Tensor] = None,
                           use_union_features: bool = True, use_pair_geometry: bool = True,
                           context_options: Optional[Dict] = None, predictor: str = "sgb"
                           ) -> Tuple[Optional[torch.nn.Module], torch.nn.Module]:
    """The encoder ``context`` (``"none"``: ``None``, the frequency-bias baseline) built with
    ``context_options`` as they are, and the relation head sized by the encoder's declared
    widths: SGB's predictor of that encoder,
    :class:`~pyg_sgg.nn.sgb_relation_head.SGBRelationHead` (``predictor="sgb"``; encoders
    SGB does not have get the Motifs form), pyg_sgg's :class:`~pyg_sgg.nn.RelationHead`
    (``"extended"``) or SGB's :class:`~pyg_sgg.nn.causal_relation_head.CausalRelationHead`
    (``"causal"``; needs an encoder and union features). ``dropout`` and
    ``use_pair_geometry`` apply to the ``"extended"`` head only."""
    encoder = build_context(context, feature_dim, hidden_dim, num_classes,
                            **(context_options or {}))
    union_dim = pair_feature_dim if use_union_features and pair_feature_dim else None
    if encoder is None and predictor == "causal":
        raise ValueError("build_encoder_and_head: the causal predictor needs a context "
                         "encoder (MODEL.SGG.CONTEXT)")
    if encoder is None:  # pure frequency baseline
        return None, RelationHead(0, num_predicates, num_classes, use_geometry=False,
                                  use_freq_bias=use_freq_bias, pred_dist=pred_dist)
    node_channels, edge_state_channels = encoder.out_channels, encoder.edge_out_channels
    if predictor == "causal":
        if union_dim is None:
            raise ValueError("build_encoder_and_head: the causal predictor needs union "
                             "features (MODEL.SGG.USE_UNION_FEATURES)")
        from ..nn.causal_relation_head import CausalRelationHead
        return encoder, CausalRelationHead(node_channels, num_predicates, num_classes,
                                           pair_feature_dim, pooling_dim, pred_dist)
    if predictor == "sgb":
        from ..nn.sgb_relation_head import SGB_HEAD_FORMS, SGBRelationHead
        form = context.lower() if context.lower() in SGB_HEAD_FORMS else "motifs"
        return encoder, SGBRelationHead(
            form, node_channels, num_predicates, num_classes, edge_channels=union_dim,
            pooling_channels=pooling_dim, edge_state_channels=edge_state_channels,
            use_freq_bias=use_freq_bias, pred_dist=pred_dist)
    head = RelationHead(
        node_channels, num_predicates, num_classes, hidden_channels=pooling_dim,
        edge_channels=union_dim, edge_state_channels=edge_state_channels,
        use_geometry=use_pair_geometry, use_freq_bias=use_freq_bias, pred_dist=pred_dist,
        dropout=dropout)
    return encoder, head


def build_kwargs_from_config(cfg, statistics: Optional[dict] = None, *,
                             feature_dim: Optional[int] = None,
                             pair_feature_dim: Optional[int] = None,
                             class_names: Optional[Sequence[str]] = None,
                             feature_extractors: Optional[Tuple[torch.nn.Module,
                                                                torch.nn.Module]] = None,
                             grounding: Optional[torch.nn.Module] = None) -> Dict:
    """The keyword arguments of :meth:`SceneGraphModel.build
    <pyg_sgg.models.SceneGraphModel.build>` from ``cfg.MODEL.SGG``
    (:func:`~pyg_sgg.models.config.add_sgg_model_config`) and ``cfg.SGG.TASK``.

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
        feature_extractors (tuple, optional): ``(box, union)`` extractors for
            ``MODEL.SGG.FEATURES trainable`` (required there; their widths replace
            ``feature_dim`` / ``pair_feature_dim``), e.g.
            ``detector.relation_feature_extractors()``.
        grounding (SegmentationGrounding, optional): ``MODEL.SGG.SEG.ENABLED``: replaces the
            extractors (:func:`pyg_sgg.engine.pipeline.build_segmentation_grounding`).
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
    extractors = {}
    if grounding is not None:
        feature_dim = pair_feature_dim = grounding.out_channels
        extractors = dict(grounding=grounding)
        if not getattr(grounding, "relation", True):  # object grounding alone
            if feature_extractors is None:
                raise ValueError("SceneGraphModel: MODEL.SGG.SEG.RELATION_GROUNDING False "
                                 "needs the detector's union extractor (feature_extractors)")
            extractors["union_extractor"] = feature_extractors[1]
            pair_feature_dim = feature_extractors[1].out_channels
        if c.SEG.REFINEMENT and c.CONTEXT.lower() != "none":
            pool = grounding.box.pooler
            extractors["refinement"] = dict(
                in_channels=grounding.box.in_channels,
                num_mask_classes=int(grounding.transfer.transfer.size(1)),
                scales=pool.scales, hidden_channels=c.SEG.REFINEMENT_DIM,
                num_conv=c.SEG.REFINEMENT_CONVS, sampling_ratio=pool.sampling_ratio,
                head=c.SEG.REFINEMENT_HEAD.lower(), num_rays=c.SEG.POLAR_RAYS,
                embedding_dim=c.SEG.REFINEMENT_EMBEDDING_DIM)
            extractors["refine_seg_masks"] = bool(c.SEG.REFINE_SEG_MASKS)
    elif c.FEATURES.lower() == "trainable":
        if feature_extractors is None:
            raise ValueError("SceneGraphModel: MODEL.SGG.FEATURES is 'trainable' but no "
                             "feature_extractors were given (pass the detector's "
                             "relation_feature_extractors(), or set MODEL.SGG.FEATURES "
                             "frozen to read batch.x / batch.edge_attr)")
        box, union = feature_extractors
        feature_dim, pair_feature_dim = box.out_channels, union.out_channels
        extractors = dict(box_extractor=box,
                          union_extractor=union if c.USE_UNION_FEATURES else None)
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
    return dict(
        mode=mode, context=c.CONTEXT, num_classes=num_classes,
        num_predicates=num_predicates, feature_dim=feature_dim,
        pair_feature_dim=pair_feature_dim, hidden_dim=c.HIDDEN_DIM,
        pooling_dim=c.POOLING_DIM, dropout=c.DROPOUT,
        use_freq_bias=c.USE_FREQ_BIAS, pred_dist=pred_dist,
        use_union_features=c.USE_UNION_FEATURES, use_pair_geometry=c.USE_PAIR_GEOMETRY,
        context_options=context_options(
            c.CONTEXT, embed_dim=c.EMBED_DIM,
            dropout=transformer.DROPOUT if is_tf else c.DROPOUT,
            class_embeddings=class_embeddings,
            edge_channels=pair_feature_dim if c.USE_UNION_FEATURES else None,
            num_obj_layers=transformer.OBJ_LAYERS if is_tf else c.OBJ_LAYERS,
            num_edge_layers=transformer.EDGE_LAYERS if is_tf else c.EDGE_LAYERS,
            order=c.OBJ_ORDER, num_iterations=c.IMP.NUM_ITER, aggr=c.IMP.AGGR,
            heads=transformer.NUM_HEADS, key_dim=transformer.KEY_DIM,
            value_dim=transformer.VAL_DIM, inner_dim=transformer.INNER_DIM,
            nms_threshold=c.LATER_NMS_THRESHOLD if mode == "sgdet" else 0.0,
            track_untreated=c.PREDICTOR.lower() == "causal", pred_dist=pred_dist,
            pooling_dim=c.POOLING_DIM),
        predictor=c.PREDICTOR.lower(), effect_type=c.EFFECT_TYPE.lower(),
        freq_bias_soft=c.FREQ_BIAS_SOFT, pairs_per_image=c.PAIRS_PER_IMAGE,
        positive_fraction=c.POSITIVE_FRACTION, require_overlap=c.REQUIRE_OVERLAP,
        sgdet_iou_threshold=c.SGDET_IOU_THRESHOLD, later_nms_threshold=c.LATER_NMS_THRESHOLD,
        **extractors)
