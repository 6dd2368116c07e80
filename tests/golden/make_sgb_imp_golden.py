"""Write ``imp_golden.pt``: object and relation logits computed by SGB's unmodified
``IMPContext`` (``model_msg_passing.py`` of KaihuaTang/Scene-Graph-Benchmark.pytorch) with its
``rel_fc`` (the relation logits of SGB's ``IMPPredictor``, which adds no frequency bias).

Only numbers are saved (inputs, SGB's randomly initialised weights, outputs); SGB's code is
read from a local copy and never committed. Its imports of maskrcnn_benchmark (``cat``,
``make_fc``) and of ``utils_motifs`` (not used by IMP) are stood in for::

    git --git-dir /path/to/Scene-Graph-Benchmark.pytorch.git archive HEAD \\
        maskrcnn_benchmark/modeling/roi_heads/relation_head | tar -x -C /tmp/sgb
    python tests/golden/make_sgb_imp_golden.py \\
        /tmp/sgb/maskrcnn_benchmark/modeling/roi_heads/relation_head

Cases: SGCls (object logits from the last node states) and PredCls (one-hot), both with the
relation logits, on five images (4 / 1 / 3 / 0 / 5 objects, a shuffled subset of the ordered
pairs; SGB's IMPPredictor maps the union features to ``CONTEXT_POOLING_DIM`` first, which the
inputs here already have).
"""
import importlib.util
import sys
import types
from pathlib import Path

import torch
from import_stubs import (sgb_golden_args, stub_maskrcnn_benchmark,  # tests/golden/
                          stub_module)

HERE = Path(__file__).resolve().parent
NUM_CLASSES, NUM_PREDICATES, FEAT, POOL, HIDDEN = 7, 5, 24, 12, 16
COUNTS = (4, 1, 3, 0, 5)


def _make_fc(dim_in, hidden_dim, use_gn=False):
    """maskrcnn_benchmark's ``make_fc`` without group norm: a Linear with Kaiming-uniform
    (a = 1) weights and zero bias (the weights are saved, so only the shape matters)."""
    fc = torch.nn.Linear(dim_in, hidden_dim)
    torch.nn.init.kaiming_uniform_(fc.weight, a=1)
    torch.nn.init.constant_(fc.bias, 0)
    return fc


def _load(relation_head: Path):
    stub_maskrcnn_benchmark()
    stub_module("maskrcnn_benchmark.modeling.make_layers", make_fc=_make_fc)
    pkg = "maskrcnn_benchmark.modeling.roi_heads.relation_head"
    stub_module(pkg, __path__=[])
    onehot = lambda labels, n: torch.nn.functional.one_hot(labels, n).float()  # noqa: E731
    stub_module(f"{pkg}.utils_motifs", obj_edge_vectors=None, encode_box_info=None,
                to_onehot=onehot)
    spec = importlib.util.spec_from_file_location(f"{pkg}.model_msg_passing",
                                                  relation_head / "model_msg_passing.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


class BoxList:
    def __init__(self, labels):
        self.labels = labels

    def get_field(self, name):
        return self.labels

    def __len__(self):
        return len(self.labels)


def _config(task):
    ns = types.SimpleNamespace
    return ns(MODEL=ns(ROI_RELATION_HEAD=ns(
        USE_GT_BOX=True, USE_GT_OBJECT_LABEL=task == "predcls", CONTEXT_POOLING_DIM=POOL)))


def main():
    args = sgb_golden_args(__doc__, HERE)
    gen = torch.Generator().manual_seed(0)
    mod = _load(args.relation_head)
    n = sum(COUNTS)
    x = torch.randn(n, FEAT, generator=gen)
    labels = torch.randint(1, NUM_CLASSES, (n,), generator=gen)
    pairs = []
    for c in COUNTS:
        idx = torch.cartesian_prod(torch.arange(c), torch.arange(c))
        idx = idx[idx[:, 0] != idx[:, 1]]
        pairs.append(idx[torch.randperm(len(idx), generator=gen)][: max(len(idx) - 2, 0)])
    union = torch.relu(torch.randn(sum(len(q) for q in pairs), POOL, generator=gen))
    out = {"counts": COUNTS, "rel_pair_idxs": pairs, "x": x, "labels": labels,
           "union_features": union,
           "config": dict(num_classes=NUM_CLASSES, num_predicates=NUM_PREDICATES, feat=FEAT,
                          pool=POOL, hidden=HIDDEN)}
    torch.manual_seed(0)
    model = mod.IMPContext(_config("sgcls"), NUM_CLASSES, NUM_PREDICATES, FEAT,
                           hidden_dim=HIDDEN)
    with torch.no_grad():  # make_fc's zero biases: make them count
        for key, param in model.named_parameters():
            if key.endswith("bias"):
                param.normal_(generator=gen)
    out["weights"] = {k: v.clone() for k, v in model.state_dict().items()}
    per_image = labels.split(COUNTS)
    for task in ("sgcls", "predcls"):
        model.cfg, model.mode = _config(task), task
        with torch.no_grad():
            obj_dists, rel_dists = model.eval()(x, [BoxList(lab) for lab in per_image], union,
                                                pairs)
        out[task] = {"obj_dists": obj_dists, "rel_dists": rel_dists}
    torch.save(out, args.out_dir / "imp_golden.pt")
    print(f"wrote {args.out_dir}/imp_golden.pt: {len(union)} pairs")


if __name__ == "__main__":
    main()
