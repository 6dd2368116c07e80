"""Config keys of :class:`~pyg_sgg.models.SceneGraphModel` (``cfg.MODEL.SGG``).

The task (predcls / sgcls / sgdet) is the global ``cfg.SGG.TASK``.
"""

#: ``MODEL.SGG.FEATURES`` choices.
FEATURE_MODES = ("trainable", "frozen")
#: ``MODEL.SGG.PREDICTOR`` and ``MODEL.SGG.EFFECT_TYPE`` choices.
PREDICTORS = ("sgb", "extended", "causal")
EFFECT_TYPES = ("none", "tde")
#: ``MODEL.SGG.SEG.ATTENTION`` choices (relation grounding).
SEG_ATTENTIONS = ("gaussian", "avg", "union")
#: ``MODEL.SGG.SEG.REFINEMENT_HEAD`` choices.
SEG_REFINEMENT_HEADS = ("per_pixel", "polar")


def add_sgg_model_config(cfg):
    """Add ``cfg.MODEL.SGG`` with commented defaults (in place; returns ``cfg``)."""
    CN = type(cfg)
    if "MODEL" not in cfg:
        cfg.MODEL = CN()
    _C = cfg.MODEL.SGG = CN()
    # Context encoder from CONTEXT_REGISTRY: "motifs", "vctree", "imp", "transformer", or
    # "none" (the frequency-bias baseline: relation logits = frequency bias only).
    _C.CONTEXT = "motifs"
    # Width of the context node states.
    _C.HIDDEN_DIM = 256
    # Width of the class-name embeddings (Motifs / VCTree / Transformer).
    _C.EMBED_DIM = 200
    # Width of the relation head's pair representation (SGB CONTEXT_POOLING_DIM).
    _C.POOLING_DIM = 512
    # Dropout in the context encoder: SGB's CONTEXT_DROPOUT_RATE (Motifs / VCTree: the
    # decoders' recurrent dropout and between stacked layers) and, with PREDICTOR "extended",
    # on the pair representation (0.1 before 2026-12-07, night). IMP: none (SGB's has none);
    # the Transformer has its own key, TRANSFORMER.DROPOUT.
    _C.DROPOUT = 0.2
    # Add log p(predicate | subject class, object class) from the training statistics.
    _C.USE_FREQ_BIAS = True
    # Relation predictor: "sgb" (SGB's predictor of the encoder, SGBRelationHead: Motifs /
    # VCTree / Transformer context x union + bias, IMP's edge states; other encoders get the
    # Motifs form), "extended" (pyg_sgg's RelationHead: SGB's Transformer form plus a
    # pair-geometry MLP, ReLU on the union projection and dropout; the former default) or
    # "causal" (SGB's CausalAnalysisPredictor, 'sum' fusion of visual, context and frequency
    # branches with their auxiliary losses; Tang et al. 2020).
    _C.PREDICTOR = "sgb"
    # Causal predictor at test: "none" (the factual logits) or "TDE" (total direct effect:
    # minus the logits of the context computed from the averaged encoder input; Motifs or
    # VCTree).
    _C.EFFECT_TYPE = "none"
    # SGCls / SGDet: look the bias up with the predicted class distributions (expectation)
    # instead of the predicted labels (SGB uses the labels).
    _C.FREQ_BIAS_SOFT = False
    # Multiply the pair representation by the union-box features (edge_attr).
    _C.USE_UNION_FEATURES = True
    # PREDICTOR "extended": add an MLP of the box-pair geometry to the pair representation.
    _C.USE_PAIR_GEOMETRY = True
    # Object classes / predicates INCLUDING background (VG150: 151 / 51); 0 = from the
    # statistics' fg_matrix shape.
    _C.NUM_OBJ_CLASSES = 0
    _C.NUM_PREDICATES = 0
    # Visual features: "trainable" (SGB / the seed papers: the relation model owns a box and
    # a union-box feature extractor on the frozen detector's FPN maps, fc6 / fc7 initialised
    # from the detector's box head and trained with the relation loss; union features add
    # SGB's spatial branch) or "frozen" (the detector's box-head vectors, cached once; fast).
    _C.FEATURES = "trainable"
    # trainable: pool union boxes from every FPN level and reduce with a 3x3 conv (SGB
    # ROI_RELATION_HEAD.POOLING_ALL_LEVELS), and add the two-box rectangle branch.
    _C.UNION_ALL_LEVELS = True
    _C.UNION_SPATIAL = True
    # Segmentation grounding (Khandelwal et al., ICCV'21): node and pair features from 28x28
    # pooled maps + the detector's COCO masks transferred to the VG classes (needs
    # FEATURES trainable, MODEL.MASK_ON and real class-name embeddings: GLOVE_FILE or the
    # `language` extra, pip install -e '.[language]').
    _C.SEG = CN()
    _C.SEG.ENABLED = False
    # Relation grounding: "gaussian" (the paper), "avg" / "union" (its ablations).
    _C.SEG.ATTENTION = "gaussian"
    # False: object grounding alone (the paper's ablation rung); the pairs take the plain
    # union-box features of the trainable extractors.
    _C.SEG.RELATION_GROUNDING = True
    # Spatial size before fc6: 28 (the authors', ~200k inputs per 256 channels) or 7 (cheaper).
    _C.SEG.POOL_TO = 28
    # The transfer's LINGUAL_MATRIX_THRESHOLD.
    _C.SEG.TRANSFER_THRESHOLD = 0.05
    # The refinement head f_M' trained on COCO batches mixed into every iteration (the
    # authors' run: the context features refine the frozen masks, per-pixel BCE on COCO
    # images only, loss_mask_segmentation); False = grounding only.
    _C.SEG.REFINEMENT = True
    # COCO images per iteration = SOLVER.IMS_PER_BATCH // DATA_DIVISOR (the authors': 2).
    _C.SEG.DATA_DIVISOR = 2
    # Width of the refinement head (the authors': 256, 4 convolutions).
    _C.SEG.REFINEMENT_DIM = 256
    _C.SEG.REFINEMENT_CONVS = 4
    # Seed 002's options for the head (not the Seg-SG authors'): "per_pixel" (theirs) or
    # "polar" (PolarMask's contour of POLAR_RAYS rays, trained with the Polar IoU loss), and
    # per-pixel embeddings of this width trained with the discriminative loss over the
    # instances inside each box (0: none).
    _C.SEG.REFINEMENT_HEAD = "per_pixel"
    _C.SEG.POLAR_RAYS = 36
    _C.SEG.REFINEMENT_EMBEDDING_DIM = 0
    # At test, ground the features in the refinement head's masks (the encoder runs once on
    # the frozen masks' features first); the authors' REFINE_SEG_MASKS, False in their runs.
    # Needs REFINEMENT True and the per-pixel head.
    _C.SEG.REFINE_SEG_MASKS = False
    # frozen: RoI / union feature widths (batch.x, batch.edge_attr); 0 = given by the caller
    # of SceneGraphModel.from_config (the detector's feature_dim / pair_feature_dim).
    _C.FEATURE_DIM = 0
    _C.PAIR_FEATURE_DIM = 0
    # Training pairs sampled per image (<= 0: all pairs) and the cap on the positive share
    # (SGB ROI_RELATION_HEAD.BATCH_SIZE_PER_IMAGE 1024, POSITIVE_FRACTION 0.25).
    _C.PAIRS_PER_IMAGE = 1024
    _C.POSITIVE_FRACTION = 0.25
    # SGDet at test: score only pairs whose boxes overlap (SGB REQUIRE_BOX_OVERLAP).
    _C.REQUIRE_OVERLAP = True
    # SGDet at test: per-class label NMS on the refined object labels of every model, and in
    # Motifs' decoder before the edge context (SGB TEST.RELATION.LATER_NMS_PREDICTION_THRES);
    # 0 = off (labels = argmax).
    _C.LATER_NMS_THRESHOLD = 0.3
    # SGDet training: IoU for matching detections to ground-truth boxes.
    _C.SGDET_IOU_THRESHOLD = 0.5
    # Class-name embeddings: "auto" (GLOVE_FILE if set, else the `language` extra, else
    # random), "glove", "minilm" or "random".
    _C.WORD_EMBEDDINGS = "auto"
    # GloVe text file (e.g. glove.6B.200d.txt); "" = none.
    _C.GLOVE_FILE = ""
    # Context encoder layers: object context and edge context (Motifs LSTM / VCTree
    # TreeLSTM / Transformer layers).
    _C.OBJ_LAYERS = 1
    _C.EDGE_LAYERS = 1
    # Motifs object order: "leftright", "confidence", "size" (or "random").
    _C.OBJ_ORDER = "leftright"
    # IMP: message-passing rounds and the aggregation ("sum": SGB and Xu et al.; or "mean").
    _C.IMP = CN()
    _C.IMP.NUM_ITER = 3
    _C.IMP.AGGR = "sum"
    # Transformer (SGB's TRANSFORMER.*): layers (override OBJ_LAYERS / EDGE_LAYERS; SGB: 4 /
    # 2), heads, per-head key / value widths, the feed-forward width and the dropout rate
    # (SGB's defaults).
    _C.TRANSFORMER = CN()
    _C.TRANSFORMER.OBJ_LAYERS = 4
    _C.TRANSFORMER.EDGE_LAYERS = 2
    _C.TRANSFORMER.NUM_HEADS = 8
    _C.TRANSFORMER.KEY_DIM = 64
    _C.TRANSFORMER.VAL_DIM = 64
    _C.TRANSFORMER.INNER_DIM = 2048
    _C.TRANSFORMER.DROPOUT = 0.1
    return cfg
