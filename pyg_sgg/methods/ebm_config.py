"""Config keys of the ``ebm`` method (``cfg.EBM``), importable without torch."""

__all__ = ["add_ebm_config", "BASE_GRAD_MODES"]

#: ``EBM.BASE_GRAD`` choices (see :mod:`pyg_sgg.methods.ebm`).
BASE_GRAD_MODES = ("minimize", "as_coded", "detach")


def add_ebm_config(cfg):
    """Add ``cfg.EBM`` with commented defaults (in place; returns ``cfg``)."""
    CN = type(cfg)
    _C = cfg.EBM = CN()
    # Energy model widths and message-passing iterations. Authors: HIDDEN_DIM 512 on 4096-d
    # X-101 RoI features (detectron_configs/datasets/VG150.yaml sets it); 128 suits the
    # 256-d features of the small SynthVG detector (an EBM step is then ~7x a CE step on CPU:
    # benchmarks/ebm_cost.py).
    _C.HIDDEN_DIM = 128
    _C.POS_DIM = 128
    _C.IMG_LAYERS = 3
    _C.SG_LAYERS = 3
    # EGNN weight of the node-to-node message (1 - ALPHA for edge-to-node).
    _C.ALPHA = 0.5
    # Softmax-normalised pooling gates (PyG AttentionalAggregation) instead of raw gates.
    _C.SOFTMAX_POOLING = False
    # False: the paper's ablation without the image graph (energy of the scene graph alone).
    _C.IMAGE_GRAPH = True
    # Loss: W * (mean(T*E_pos) - mean(T*E_neg)) + R * sum(E_pos^2 + E_neg^2) + TASK * task.
    _C.LOSS_WEIGHT = 1.0
    _C.REG_WEIGHT = 1.0
    _C.TASK_WEIGHT = 1.0
    _C.TEMP = 1.0
    # Std of the noise on the one-hot states and image features (authors' DATA_NOISE_VAR).
    _C.DATA_NOISE_STD = 1e-4
    # Read DATA_NOISE_STD and SAMPLER.NOISE_STD as variances (std = sqrt) - what the authors'
    # key names say; False = what their code does.
    _C.NOISE_AS_VARIANCE = False
    # Energy gradient to the base model: "as_coded" (the paper's Eq. 5 and the authors' code:
    # one graph, so the base model and its feature extractors receive the energy loss,
    # -E_neg through the SGLD path and E_pos - E_neg through the image graph), "minimize"
    # (the base model lowers the energy of its sampled graph; the contrastive loss trains
    # the energy model only), "detach" (none).
    _C.BASE_GRAD = "as_coded"
    # Floor of the min-max divisor; 0 = authors (NaN on a constant row).
    _C.NORM_EPS = 1e-6
    # Authors' quirk: add the image-feature noise in place to outputs.node_features.
    _C.INPLACE_FEATURE_NOISE = False
    # Widths (-1: inferred from the first batch): RoI features, C + 1, P + 1.
    _C.IMG_DIM = -1
    _C.NUM_OBJ_CLASSES = -1
    _C.NUM_PREDICATES = -1
    # SGLD sampler (authors' README run: SAMPLER.LR 1.0, ITERS 20, VAR 0.001, GRAD_CLIP 0.01).
    _C.SAMPLER = CN()
    _C.SAMPLER.STEP_SIZE = 1.0
    _C.SAMPLER.NUM_STEPS = 20
    _C.SAMPLER.NOISE_STD = 0.001
    _C.SAMPLER.GRAD_CLIP = 0.01
    # Energy-model optimiser: SGD at LR (authors: the base model's SGD lr, SGB's 0.01; LR <= 0
    # = cfg.SOLVER.BASE_LR); bias parameters get no weight decay. GRAD_NORM_CLIP: its gradient
    # norm is clipped in after_backward (authors: 5.0, separately from the base model; 0 =
    # only the trainer's per-optimiser SOLVER.CLIP_GRADIENTS).
    _C.SOLVER = CN()
    _C.SOLVER.LR = 0.01
    _C.SOLVER.MOMENTUM = 0.9
    _C.SOLVER.WEIGHT_DECAY = 1e-4
    _C.SOLVER.GRAD_NORM_CLIP = 5.0
    return cfg
