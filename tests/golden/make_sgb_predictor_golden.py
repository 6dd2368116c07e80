"""Write ``sgb_predictor_golden.pt``: relation logits computed by the part after the context
layer of SGB's unmodified ``MotifPredictor``, ``VCTreePredictor`` and ``TransformerPredictor``
(``roi_relation_predictors.py`` of KaihuaTang/Scene-Graph-Benchmark.pytorch).

Only numbers are saved (inputs, SGB's randomly initialised weights, outputs); SGB's code is
read from a local copy and never committed. Each predictor's ``context_layer`` is replaced by
a stand-in that returns fixed context outputs (node states ``edge_ctx``, committed labels
``obj_preds``), so the numbers cover the head alone; the contexts have their own golden file
(make_sgb_context_golden.py). The imports of the predictor file that the head does not use
(other context modules, maskrcnn_benchmark's layers and dataset statistics) are stood in for::

    git --git-dir /path/to/Scene-Graph-Benchmark.pytorch.git archive HEAD \\
        maskrcnn_benchmark/modeling/roi_heads/relation_head | tar -x -C /tmp/sgb
    python tests/golden/make_sgb_predictor_golden.py \\
        /tmp/sgb/maskrcnn_benchmark/modeling/roi_heads/relation_head

Cases (eval mode; the linear maps' biases, 0 at SGB's initialisation, set at random):
Motifs with union features wider than the pair representation (SGB's ``up_dim``) and without
union features (``PREDICT_USE_VISION False``); VCTree with equal widths (no ``up_dim``);
Transformer with ``up_dim``; and SGB's ``CausalAnalysisPredictor`` ('sum' fusion): factual and
TDE logits at test (the stand-in context returns other node states for the averaged input),
logits and the auxiliary branch losses in training.
"""
import importlib.util
import sys
import types
from pathlib import Path

import torch
from import_stubs import (Registry, sgb_golden_args, stub_glove_download,  # tests/golden/
                          stub_maskrcnn_benchmark, stub_module)

HERE = Path(__file__).resolve().parent
NUM_CLASSES, NUM_PREDICATES, HIDDEN = 7, 5, 32  # classes / predicates incl. background
COUNTS = (4, 1, 3, 0, 5)  # objects per image (one empty image)
CASES = {  # name: (predictor, CONTEXT_POOLING_DIM, MLP_HEAD_DIM, PREDICT_USE_VISION)
    "motifs": ("MotifPredictor", 20, 12, True),
    "motifs_no_vision": ("MotifPredictor", 20, 12, False),
    "vctree": ("VCTreePredictor", 12, 12, True),
    "transformer": ("TransformerPredictor", 20, 12, True),
}


def _stub_imports(stats):
    module = stub_module
    stub_maskrcnn_benchmark(ROI_RELATION_PREDICTOR=Registry())
    stub_glove_download()  # utils_relation's
    module("maskrcnn_benchmark.layers", smooth_l1_loss=None, kl_div_loss=None,
           entropy_loss=None, Label_Smoothing_Regression=lambda e=1.0: None)
    module("maskrcnn_benchmark.data", get_dataset_statistics=lambda cfg: stats)
    pkg = "maskrcnn_benchmark.modeling.roi_heads.relation_head"
    module(pkg, __path__=[])
    for name, attr in (("model_msg_passing", "IMPContext"), ("model_vtranse", "VTransEFeature"),
                       ("model_vctree", "VCTreeLSTMContext"),
                       ("model_motifs_with_attribute", "AttributeLSTMContext"),
                       ("model_transformer", "TransformerContext")):
        module(f"{pkg}.{name}", **{attr: None})
    # model_motifs: its FrequencyBias is the head's; LSTMContext is replaced below
    module(f"{pkg}.model_motifs", LSTMContext=None)


def _load(relation_head: Path):
    pkg = "maskrcnn_benchmark.modeling.roi_heads.relation_head"
    out = {}
    for name in ("utils_relation", "roi_relation_predictors"):
        spec = importlib.util.spec_from_file_location(f"{pkg}.{name}",
                                                      relation_head / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        if name == "roi_relation_predictors":  # SGB's FrequencyBias, from model_motifs.py
            sys.modules[f"{pkg}.model_motifs"].FrequencyBias = _frequency_bias(relation_head)
        spec.loader.exec_module(mod)
        out[name] = mod
    return out


def _frequency_bias(relation_head: Path):
    """SGB's ``FrequencyBias`` class, cut from ``model_motifs.py`` (the rest of that file
    needs the GloVe download)."""
    src = (relation_head / "model_motifs.py").read_text()
    start = src.index("class FrequencyBias")
    end = src.index("\nclass ", start + 1)
    ns = {"torch": torch, "nn": torch.nn}
    exec(compile(src[start:end], "model_motifs.py:FrequencyBias", "exec"), ns)
    return ns["FrequencyBias"]


class ContextStandIn(torch.nn.Module):
    """Returns fixed context outputs in the tuple shape of the predictor's context layer
    (``averaged``: those with ``ctx_average=True``, the causal predictor's counterfactual)."""

    def __init__(self, outputs, averaged=None):
        super().__init__()
        self.outputs, self.averaged = outputs, averaged

    def forward(self, *args, ctx_average=False, **kwargs):
        return self.averaged if ctx_average else self.outputs


class BoxList:
    def __init__(self, n, bbox=None, size=None):
        self.n, self.bbox, self.size = n, bbox, size

    def __len__(self):
        return self.n


def _config(pooling, mlp, vision):
    ns = types.SimpleNamespace
    return ns(MODEL=ns(
        ATTRIBUTE_ON=False, ROI_BOX_HEAD=ns(NUM_CLASSES=NUM_CLASSES, MLP_HEAD_DIM=mlp),
        ROI_ATTRIBUTE_HEAD=ns(NUM_ATTRIBUTES=1),
        ROI_RELATION_HEAD=ns(NUM_CLASSES=NUM_PREDICATES, PREDICT_USE_VISION=vision,
                             PREDICT_USE_BIAS=True, CONTEXT_HIDDEN_DIM=HIDDEN,
                             CONTEXT_POOLING_DIM=pooling)))


def _causal_case(preds, gen, obj_dists, obj_preds, edge_ctx, pairs):
    """SGB's ``CausalAnalysisPredictor`` ('sum' fusion, Motifs context): factual and TDE
    relation logits at test, and in training the logits and the three auxiliary branch
    losses (``auxiliary_ctx / vis / frq``)."""
    ns = types.SimpleNamespace
    pooling = 20
    cfg = _config(pooling, pooling, True)  # SGB asserts CONTEXT_POOLING_DIM == MLP_HEAD_DIM
    cfg.MODEL.ROI_RELATION_HEAD.CAUSAL = ns(
        EFFECT_ANALYSIS=True, FUSION_TYPE="sum", CONTEXT_LAYER="motifs", EFFECT_TYPE="TDE",
        SEPARATE_SPATIAL=False, SPATIAL_FOR_VISION=False)
    torch.manual_seed(0)
    model = preds.CausalAnalysisPredictor(cfg, 24)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if key.endswith(".bias"):
                param.normal_(generator=gen)
    edge_ctx_avg = torch.randn_like(edge_ctx)  # the context of the averaged input
    model.context_layer = ContextStandIn((obj_dists, obj_preds, edge_ctx, None),
                                         (obj_dists, obj_preds, edge_ctx_avg, None))
    num_pairs = sum(len(q) for q in pairs)
    union = torch.relu(torch.randn(num_pairs, pooling, generator=gen))
    rel_labels = [torch.randint(0, NUM_PREDICATES, (len(q),), generator=gen) for q in pairs]
    proposals = []
    for c in COUNTS:  # boxes only for SGB's (unused here) pair geometry
        xy = torch.rand(c, 2, generator=gen) * 100
        proposals.append(BoxList(c, torch.cat([xy, xy + 20], 1), (200, 150)))
    x = torch.zeros(len(obj_preds), 24)
    case = {"weights": None, "union_features": union, "edge_ctx_avg": edge_ctx_avg,
            "rel_labels": torch.cat(rel_labels), "pooling": pooling}
    with torch.no_grad():
        model.eval()
        case["rel_dists_tde"] = torch.cat(model(proposals, pairs, None, None, x, union)[1])
        model.effect_type = "none"
        case["rel_dists"] = torch.cat(model(proposals, pairs, None, None, x, union)[1])
        case["weights"] = {k: v.clone() for k, v in model.state_dict().items()}
        model.train()
        _, rel_dists, losses = model(proposals, pairs, rel_labels, None, x, union)
    case["rel_dists_train"] = torch.cat(rel_dists)
    case["losses"] = {k: float(v) for k, v in losses.items()}
    return case


def main():
    args = sgb_golden_args(__doc__, HERE)
    gen = torch.Generator().manual_seed(0)
    pred_dist = torch.log_softmax(
        torch.randn(NUM_CLASSES, NUM_CLASSES, NUM_PREDICATES, generator=gen), -1)
    stats = {"obj_classes": [f"c{i}" for i in range(NUM_CLASSES)],
             "rel_classes": [f"r{i}" for i in range(NUM_PREDICATES)],
             "att_classes": ["a"], "pred_dist": pred_dist}
    _stub_imports(stats)
    preds = _load(args.relation_head)["roi_relation_predictors"]

    n = sum(COUNTS)
    edge_ctx = torch.randn(n, HIDDEN, generator=gen)
    obj_preds = torch.randint(1, NUM_CLASSES, (n,), generator=gen)
    obj_dists = torch.randn(n, NUM_CLASSES, generator=gen)
    pairs = []
    for c in COUNTS:  # all ordered pairs but a few, in a shuffled order
        idx = torch.cartesian_prod(torch.arange(c), torch.arange(c))
        idx = idx[idx[:, 0] != idx[:, 1]]
        pairs.append(idx[torch.randperm(len(idx), generator=gen)][: max(len(idx) - 2, 0)])
    num_pairs = sum(len(q) for q in pairs)
    out = {"counts": COUNTS, "rel_pair_idxs": pairs, "edge_ctx": edge_ctx,
           "obj_preds": obj_preds, "pred_dist": pred_dist, "hidden": HIDDEN}
    for case, (name, pooling, mlp, vision) in CASES.items():
        for ctx_name in ("LSTMContext", "VCTreeLSTMContext", "TransformerContext"):
            setattr(preds, ctx_name, lambda *a, **k: None)
        torch.manual_seed(0)
        model = getattr(preds, name)(_config(pooling, mlp, vision), 24).eval()
        with torch.no_grad():  # SGB initialises the biases to 0: make them count
            for key, param in model.named_parameters():
                if key.endswith(".bias"):
                    param.normal_(generator=gen)
        model.context_layer = ContextStandIn(
            (obj_dists, obj_preds, edge_ctx) if name == "TransformerPredictor"
            else (obj_dists, obj_preds, edge_ctx, None))
        union = torch.relu(torch.randn(num_pairs, mlp, generator=gen))
        with torch.no_grad():
            _, rel_dists, _ = model([BoxList(c) for c in COUNTS], pairs, None, None,
                                    torch.zeros(n, 24), union)
        out[case] = {"weights": {k: v.clone() for k, v in model.state_dict().items()},
                     "union_features": union, "pooling": pooling, "vision": vision,
                     "rel_dists": torch.cat(rel_dists).detach()}
    out["causal"] = _causal_case(preds, gen, obj_dists, obj_preds, edge_ctx, pairs)
    torch.save(out, args.out_dir / "sgb_predictor_golden.pt")
    print(f"wrote {args.out_dir}/sgb_predictor_golden.pt: {num_pairs} pairs, cases "
          f"{list(CASES)}")


if __name__ == "__main__":
    main()
