"""Config keys of the ``hml`` method (``cfg.HML``), importable without torch."""

__all__ = ["add_hml_config", "CLASS_WEIGHTS", "CHILD_INITS", "STAGE_DATA", "MR_NORMALISE"]

CLASS_WEIGHTS = ("authors", "effective", "inverse", "none")
CHILD_INITS = ("fresh", "parent")
STAGE_DATA = ("stage_predicates", "new_predicates", "all")
MR_NORMALISE = ("global", "per_tensor")


def add_hml_config(cfg):
    """Add ``cfg.HML`` with commented defaults (in place; returns ``cfg``)."""
    CN = type(cfg)
    _C = cfg.HML = CN()
    # Cumulative numbers of foreground predicates of every stage but the last (= all).
    # [10] = the authors' 2 stages (top-10 most frequent, then all 50); [10, 20] = 3 stages.
    _C.STAGE_SIZES = [10]
    # "frequency" (most frequent first) or "cluster" (agglomerative clustering of the
    # frequency-bias columns pred_dist[:, :, p]; stage sizes rounded up to whole clusters).
    _C.SPLIT = "frequency"
    _C.NUM_CLUSTERS = 0  # 0: len(STAGE_SIZES) + 1
    # Stage s runs round(SOLVER.MAX_ITER * ITER_FACTORS[s]) iterations (last factor repeats);
    # the authors: stage 0 = MAX_ITER, stage 1 = 2 x MAX_ITER.
    _C.ITER_FACTORS = [1.0, 2.0]
    # Relation CE class weights per stage; classes outside the stage get 0. "authors": the
    # published VG150 vectors (matched by predicate name; the authors' two stages), else
    # "inverse"; or "effective" (Cui et al.), "inverse" (1 / count), "none".
    # BG_RATIO: background weight / smallest fg weight (the authors' vectors: ~0.25).
    _C.CLASS_WEIGHT = "authors"
    _C.BETA = 0.999
    _C.BG_RATIO = 0.25
    # Each stage's child: "fresh" (the authors: the model as built, a fresh optimiser
    # state) or "parent" (continue from the parent's weights).
    _C.CHILD_INIT = "fresh"
    # Stage s trains on the images with a relation among its predicates
    # ("stage_predicates"), among the predicates it adds ("new_predicates"), or on all
    # ("all"). A reconstruction: the authors' filter (rerank_only_certain_predicate_exist)
    # was never published.
    _C.STAGE_DATA = "stage_predicates"
    _C.CR = CN()
    _C.CR.WEIGHT = 1.0
    # Distance of softmaxed parent/child outputs: "l2", "l1", "smooth_l1", "kl", "cosine".
    _C.CR.FORM = "l2"
    # The public code's form (default): 0.5 * L1 mean * rows (MSE for objects), parent in
    # train mode; False: CR.FORM (the supplementary's forms) with the parent in eval mode.
    _C.CR.CODE_FORM = True
    # Reproduce the public code's misalignment (parent's background rows shuffled).
    _C.CR.MISALIGN = False
    _C.MR = CN()
    _C.MR.WEIGHT = 1.0  # lambda (authors' SOLVER.LAMBDA_FOR_PARAM)
    _C.MR.DISTANCE = "l2"  # "l2" (the README) or "abs"
    # "rwalk": max(-g.dtheta, 0) / (F dtheta^2 + eps); "hml_code": the authors' sign.
    _C.MR.IMPORTANCE = "rwalk"
    _C.MR.ALPHA = 0.5  # Fisher EMA factor (authors' SOLVER.ALPHA_FOR_FISHER)
    # F* / Omega*: log10 minus the mean over all covered values ("global", the authors) or
    # over each parameter tensor ("per_tensor").
    _C.MR.NORMALISE = "global"
    # Regexes on model parameter names that MR covers / leaves out.
    _C.MR.INCLUDE = ["context", "relation_head"]
    _C.MR.EXCLUDE = ["freq_bias"]
    # Add MR's exact gradient in after_backward (fast) instead of autograd through loss_mr.
    _C.MR.FUSED_GRAD = True
    # Save "model_stage<s>" at the end of each stage.
    _C.SAVE_STAGE_CHECKPOINTS = True
    return cfg
