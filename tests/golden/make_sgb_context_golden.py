"""Write ``motifs_golden.pt``, ``vctree_golden.pt`` and ``transformer_golden.pt``: object labels
and context node states computed by SGB's unmodified Motifs context (``LSTMContext`` with its
``DecoderRNN``, ``model_motifs.py``), VCTree context (``VCTreeLSTMContext``: tree scores,
forest, highway Tree-LSTMs and ``DecoderTreeLSTM``, ``model_vctree.py``) and Transformer
context (``TransformerContext``, ``model_transformer.py``) of
KaihuaTang/Scene-Graph-Benchmark.pytorch.

Only numbers are saved (inputs, SGB's randomly initialised weights, outputs); SGB's code is
read from a local copy and never committed. Its files import maskrcnn_benchmark (a registry,
``cat``), ``six`` and ``tqdm`` (for the GloVe download, not called): this script puts
stand-ins for those in ``sys.modules`` and gives the modules random class vectors instead of
GloVe (the vectors are saved with the weights)::

    git --git-dir /path/to/Scene-Graph-Benchmark.pytorch.git archive HEAD \\
        maskrcnn_benchmark/modeling/roi_heads/relation_head | tar -x -C /tmp/sgb
    python tests/golden/make_sgb_context_golden.py \\
        /tmp/sgb/maskrcnn_benchmark/modeling/roi_heads/relation_head

Cases (dropout 0): PredCls at test, PredCls at test with the TDE counterfactual
(``ctx_average=True``: the averaged edge-context input), SGCls at test (greedy decoding; SGB's
Motifs decodes one image at a time); Motifs: SGCls training (teacher forcing) with the moving
average of the edge-context input it updates, SGDet training (background labels: the decoder
feeds its own prediction); VCTree: PredCls training (its training-time decoder samples labels,
so SGCls training has no fixed numbers), and the pair logits of every case; Transformer:
PredCls and SGCls at test (its box embedding always has dropout, so training has no fixed
numbers).
"""
import importlib.util
import sys
import types
from pathlib import Path

import torch
from import_stubs import (Registry, sgb_golden_args, stub_glove_download,  # tests/golden/
                          stub_maskrcnn_benchmark)

HERE = Path(__file__).resolve().parent
NUM_CLASSES, FEAT, EMBED, HIDDEN = 7, 24, 16, 32  # classes incl. background
COUNTS = (4, 1, 3, 5)  # objects per image
SIZES = ((640, 480), (320, 400), (500, 500), (800, 600))  # (width, height) per image


def _load(relation_head: Path, vectors):
    pkg = "maskrcnn_benchmark.modeling.roi_heads.relation_head"
    sys.modules[pkg] = types.ModuleType(pkg)
    sys.modules[pkg].__path__ = [str(relation_head)]
    out = {}
    for name in ("utils_relation", "utils_motifs", "utils_vctree", "utils_treelstm",
                 "model_motifs", "model_vctree", "model_transformer"):
        spec = importlib.util.spec_from_file_location(f"{pkg}.{name}",
                                                      relation_head / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        if name == "utils_motifs":  # GloVe stand-in, read by model_motifs at import
            mod.obj_edge_vectors = lambda names, wv_dir, wv_dim: vectors(len(names), wv_dim)
        out[name] = mod
    return out


def _config(task):
    ns = types.SimpleNamespace
    return ns(GLOVE_DIR="", TEST=ns(RELATION=ns(LATER_NMS_PREDICTION_THRES=0.3)),
              MODEL=ns(ROI_RELATION_HEAD=ns(
                  USE_GT_BOX=task != "sgdet", USE_GT_OBJECT_LABEL=task == "predcls",
                  EMBED_DIM=EMBED, CONTEXT_DROPOUT_RATE=0.0, CONTEXT_HIDDEN_DIM=HIDDEN,
                  CONTEXT_OBJ_LAYER=1, CONTEXT_REL_LAYER=1,
                  CAUSAL=ns(EFFECT_ANALYSIS=True),
                  TRANSFORMER=ns(DROPOUT_RATE=0.0, OBJ_LAYER=2, REL_LAYER=1, NUM_HEAD=2,
                                 INNER_DIM=20, KEY_DIM=8, VAL_DIM=6))))


class BoxList:
    """The part of maskrcnn_benchmark's BoxList that ``LSTMContext`` reads."""

    def __init__(self, bbox, size, **fields):
        self.bbox, self.size, self.mode, self.fields = bbox, size, "xyxy", fields

    def get_field(self, name):
        return self.fields[name]

    def __len__(self):
        return self.bbox.size(0)


def _inputs(gen):
    boxes, labels, det_labels = [], [], []
    for n, (w, h) in zip(COUNTS, SIZES):
        cx = torch.randperm(w - 60, generator=gen)[:n].float() + 30  # distinct centres
        cy = torch.rand(n, generator=gen) * (h - 60) + 30
        bw = torch.rand(n, generator=gen) * 50 + 5
        bh = torch.rand(n, generator=gen) * 50 + 5
        boxes.append(torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1))
        lab = torch.randint(1, NUM_CLASSES, (n,), generator=gen)
        labels.append(lab)
        det_labels.append(lab * (torch.rand(n, generator=gen) > 0.4))  # some background
    n = sum(COUNTS)
    return dict(boxes=boxes, labels=labels, det_labels=det_labels,
                x=torch.randn(n, FEAT, generator=gen),
                predict_logits=torch.randn(n, NUM_CLASSES, generator=gen) * 2)


def _proposals(inp, task, images=None):
    images = range(len(COUNTS)) if images is None else images
    logits = inp["predict_logits"].split(COUNTS)
    labels = inp["det_labels" if task == "sgdet" else "labels"]
    return [BoxList(inp["boxes"][i], SIZES[i], labels=labels[i], predict_logits=logits[i])
            for i in images]


def _outputs(res):
    obj_dists, obj_preds, edge_ctx, bi_preds = res
    out = {"obj_dists": obj_dists.detach(), "obj_preds": obj_preds.detach(),
           "edge_ctx": edge_ctx.detach()}
    if bi_preds is not None:  # VCTree's pair logits, one [n, n] per image
        out["pair_logits"] = [b.detach() for b in bi_preds]
    return out


def _cat(per_image):
    out = {k: torch.cat([o[k] for o in per_image]) for k in per_image[0]
           if k != "pair_logits"}
    if "pair_logits" in per_image[0]:
        out["pair_logits"] = [b for o in per_image for b in o["pair_logits"]]
    return out


def _tweak(model, gen, untreated=True):
    """Non-trivial BatchNorm statistics and untreated input (in place)."""
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, torch.nn.BatchNorm1d):
                bn.running_mean.copy_(torch.randn(bn.num_features, generator=gen) * 0.1)
                bn.running_var.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
        if untreated:
            model.untreated_edg_feat.copy_(torch.randn(EMBED + FEAT, generator=gen))


def _models(build, gen, untreated=True):
    torch.manual_seed(0)
    models = {t: build(_config(t)) for t in ("predcls", "sgcls", "sgdet")}
    _tweak(models["predcls"], gen, untreated)
    weights = {k: v.clone() for k, v in models["predcls"].state_dict().items()}
    for m in models.values():
        m.load_state_dict(weights)
    return models, weights


def main():
    args = sgb_golden_args(__doc__, HERE)
    gen = torch.Generator().manual_seed(0)
    stub_maskrcnn_benchmark(ROI_RELATION_PREDICTOR=Registry())
    stub_glove_download()
    mods = _load(args.relation_head,
                 lambda rows, dim: torch.randn(rows, dim, generator=gen))
    classes = [f"class{i}" for i in range(NUM_CLASSES)]
    inp = _inputs(gen)
    x = inp["x"]
    base = {"inputs": inp, "sizes": SIZES,
            "config": dict(num_classes=NUM_CLASSES, feat=FEAT, embed=EMBED, hidden=HIDDEN)}

    # Motifs
    models, weights = _models(
        lambda cfg: mods["model_motifs"].LSTMContext(cfg, classes, ["rel"], FEAT), gen)
    out = dict(base, weights=weights)
    with torch.no_grad():
        m = models["predcls"].eval()
        out["predcls_test"] = _outputs(m(x, _proposals(inp, "predcls"), None))
        out["predcls_test_tde"] = _outputs(m(x, _proposals(inp, "predcls"), None,
                                             ctx_average=True))
        m = models["sgcls"].eval()  # SGB's decoder decodes one image at a time at test
        out["sgcls_test"] = _cat([_outputs(m(xi, _proposals(inp, "sgcls", [i]), None))
                                  for i, xi in enumerate(x.split(COUNTS))])
        for task in ("sgcls", "sgdet"):
            m = models[task].train()
            m.untreated_edg_feat.zero_()
            out[f"{task}_train"] = _outputs(m(x, _proposals(inp, task), None))
            out[f"{task}_train"]["untreated_edg_feat"] = m.untreated_edg_feat.clone()
    torch.save(out, args.out_dir / "motifs_golden.pt")

    # VCTree (its frequency prior from log predicate distributions, as SGB's statistics)
    pred_dist = torch.log_softmax(torch.randn(NUM_CLASSES, NUM_CLASSES, 4, generator=gen), -1)
    stats = {"obj_classes": classes, "rel_classes": ["rel"] * 4, "pred_dist": pred_dist}
    models, weights = _models(
        lambda cfg: mods["model_vctree"].VCTreeLSTMContext(cfg, classes, ["rel"] * 4, stats,
                                                           FEAT), gen)
    out = dict(base, weights=weights, pred_dist=pred_dist)
    with torch.no_grad():
        m = models["predcls"].eval()
        out["predcls_test"] = _outputs(m(x, _proposals(inp, "predcls"), None))
        out["predcls_test_tde"] = _outputs(m(x, _proposals(inp, "predcls"), None,
                                             ctx_average=True))
        out["sgcls_test"] = _outputs(models["sgcls"].eval()(x, _proposals(inp, "sgcls"), None))
        m = models["predcls"].train()
        m.untreated_edg_feat.zero_()
        out["predcls_train"] = _outputs(m(x, _proposals(inp, "predcls"), None))
        out["predcls_train"]["untreated_edg_feat"] = m.untreated_edg_feat.clone()
    torch.save(out, args.out_dir / "vctree_golden.pt")
    vctree_labels = out["sgcls_test"]["obj_preds"].tolist()

    # Transformer (at test only: SGB's bbox_embed always has dropout 0.1)
    models, weights = _models(
        lambda cfg: mods["model_transformer"].TransformerContext(cfg, classes, ["rel"], FEAT),
        gen, untreated=False)
    out = dict(base, weights=weights)
    with torch.no_grad():
        for task in ("predcls", "sgcls"):
            res = models[task].eval()(x, _proposals(inp, task))
            out[f"{task}_test"] = _outputs(tuple(res) + (None,))
    torch.save(out, args.out_dir / "transformer_golden.pt")
    print(f"wrote {args.out_dir}/motifs_golden.pt, vctree_golden.pt, transformer_golden.pt; "
          f"VCTree SGCls test labels {vctree_labels}")


if __name__ == "__main__":
    main()
