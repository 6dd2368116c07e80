"""pyg_sgg's IMP (IMPContext + the ``imp`` form of SGBRelationHead) against numbers computed by
SGB's unmodified ``IMPContext`` and its ``rel_fc`` (tests/golden/make_sgb_imp_golden.py; only
numbers are stored): object logits and relation logits on five images, one of them empty."""
from pathlib import Path

import pytest
import torch

from pyg_sgg.nn.context.imp import IMPContext
from pyg_sgg.nn.sgb_relation_head import SGBRelationHead

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "imp_golden.pt"


def imp_sgb_to_pyg(w):
    """SGB's ``IMPContext`` state dict as pyg_sgg's encoder and head state dicts: the four
    one-output gates become two two-output ones (edge: subject, object; node: out, in)."""
    rename = {"obj_unary": "node_lin", "edge_unary": "edge_lin", "obj_fc": "obj_lin",
              "edge_gru": "edge_gru", "node_gru": "node_gru"}
    enc = {rename[k.split(".")[0]] + k[k.index("."):]: v for k, v in w.items()
           if k.split(".")[0] in rename}
    for ours, (a, b) in {"edge_gate": ("sub_vert_w_fc", "obj_vert_w_fc"),
                         "node_gate": ("out_edge_w_fc", "in_edge_w_fc")}.items():
        for p in ("weight", "bias"):
            enc[f"{ours}.{p}"] = torch.cat([w[f"{a}.0.{p}"], w[f"{b}.0.{p}"]])
    head = {"edge_lin.weight": w["rel_fc.weight"], "edge_lin.bias": w["rel_fc.bias"]}
    return enc, head


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN)


@pytest.mark.parametrize("task", ["sgcls", "predcls"])
def test_matches_sgb_imp(golden, task):
    cfg = golden["config"]
    counts = torch.tensor(golden["counts"])
    offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
    edge_index = torch.cat([p.t() + o for p, o in zip(golden["rel_pair_idxs"], offsets)], 1)
    batch = torch.repeat_interleave(torch.arange(len(counts)), counts)
    enc = IMPContext(cfg["feat"], cfg["hidden"], cfg["num_classes"], edge_channels=cfg["pool"],
                     pooling_channels=cfg["pool"])
    head = SGBRelationHead("imp", cfg["hidden"], cfg["num_predicates"], cfg["num_classes"],
                           edge_state_channels=cfg["hidden"])
    enc_w, head_w = imp_sgb_to_pyg(golden["weights"])
    enc.load_state_dict(enc_w)
    head.load_state_dict(head_w)
    x = golden["x"]
    n = x.size(0)
    dist = torch.nn.functional.one_hot(golden["labels"], cfg["num_classes"]).float()
    out = enc.eval()(x, torch.zeros(n, 9), dist, edge_index, batch,
                     edge_attr=golden["union_features"])
    rel = head(out.node_states, edge_index, edge_states=out.edge_states)
    g = golden[task]
    assert torch.allclose(rel, g["rel_dists"], atol=1e-5, rtol=1e-5)
    if task == "sgcls":
        assert torch.allclose(out.obj_logits, g["obj_dists"], atol=1e-5, rtol=1e-5)


def test_union_features_mapped_to_the_pooling_width():
    enc = IMPContext(8, 6, 4, edge_channels=5, pooling_channels=7)
    assert enc.up_dim.in_features == 5 and enc.edge_lin.in_features == 7
    assert IMPContext(8, 6, 4, edge_channels=7, pooling_channels=7).up_dim is None
