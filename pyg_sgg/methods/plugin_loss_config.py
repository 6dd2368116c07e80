"""Config keys of the plug-in loss methods of seed 002 (``gcl``, ``baikal``, ``disc``, ``cmat``),
importable without torch."""

__all__ = ["add_plugin_loss_config", "BAIKAL_FORMS", "BAIKAL_REL_ROWS"]

#: ``BAIKAL.FORM`` choices (see :mod:`pyg_sgg.losses.baikal`).
BAIKAL_FORMS = ("baikal", "baikal_cma")
#: ``BAIKAL.REL_ROWS`` choices.
BAIKAL_REL_ROWS = ("all", "foreground")


def add_plugin_loss_config(cfg):
    """Add ``cfg.GCL``, ``cfg.BAIKAL``, ``cfg.DISC`` and ``cfg.CMAT`` with commented defaults (in place;
    returns ``cfg``)."""
    CN = type(cfg)
    # Graphical contrastive losses (RelDN, CVPR'19), added to the task loss by --method gcl.
    _C = cfg.GCL = CN()
    # Weights of the agnostic, entity-class-aware and predicate-class-aware losses, each the
    # sum of its subject and object sides (RelDN's VG configs: 1.0, 0.5, 0.1).
    _C.WEIGHTS = [1.0, 0.5, 0.1]
    # Ranking margin of all three (RelDN: 0.2).
    _C.MARGIN = 0.2
    # A class-aware group without a matching negative uses the anchor's agnostic negative
    # (RelDN's USE_SPO_AGNOSTIC_COMPENSATION, on for VG); False drops the group.
    _C.FALLBACK = True
    # Baikal loss (Gonzalez & Miikkulainen, GLO) in place of the cross-entropies.
    _C = cfg.BAIKAL = CN()
    # "baikal" (the GP-discovered form) or "baikal_cma" (its CMA-ES-tuned coefficients).
    _C.FORM = "baikal"
    # Floor of the softmax probability in the x / y term (it explodes as y -> 0).
    _C.EPS = 1e-6
    # Relation rows it applies to: "all" pairs, or "foreground" pairs only (background pairs
    # then keep the cross-entropy; the pair distribution is mostly background).
    _C.REL_ROWS = "all"
    # Also replace the object cross-entropy (SGCls / SGDet).
    _C.OBJECTS = True
    # Discriminative loss (De Brabandere et al.) on the object node states grouped by class.
    _C = cfg.DISC = CN()
    # Pull margin delta_v and push margin delta_d (the paper: 0.5, 1.5).
    _C.DELTA_V = 0.5
    _C.DELTA_D = 1.5
    # alpha (variance), beta (distance), gamma (regulariser): the paper's 1, 1, 0.001.
    _C.ALPHA = 1.0
    _C.BETA = 1.0
    _C.GAMMA = 0.001
    # Weight of the whole term next to the task loss.
    _C.WEIGHT = 1.0
    # Clusters per image (keys (image, class)) instead of per class over the whole batch;
    # a SynthVG image has ~6.5 objects, mostly of distinct classes, so per image the pull
    # term has little to act on.
    _C.PER_IMAGE = False
    # CMAT (Chen et al., ICCV'19): counterfactual critic multi-agent training.
    _C = cfg.CMAT = CN()
    # Share of SOLVER.MAX_ITER trained with the task loss alone before CMAT starts (the
    # paper's two stages: cross-entropy, then CMAT; the split is not published).
    _C.START_FRACTION = 0.5
    # alpha of the paper's cross-entropy terms in the CMAT stage, and the policy term's weight.
    _C.ALPHA = 1.0
    _C.WEIGHT = 1.0
    # K of the reward (triplet Recall@K of the generated graph).
    _C.TOP_K = 50
    # Counterfactual baseline over all C + 1 labels; False = the authors' approximation
    # (the chosen label, the two most probable others and background).
    _C.EXACT = False
    return cfg
