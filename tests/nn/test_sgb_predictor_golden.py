"""pyg_sgg's SGBRelationHead and CausalRelationHead against relation logits computed by SGB's
unmodified ``MotifPredictor``, ``VCTreePredictor``, ``TransformerPredictor`` and
``CausalAnalysisPredictor`` after their context layers (tests/golden/make_sgb_predictor_golden.py;
only numbers are stored)."""
from pathlib import Path

import pytest
import torch

import torch.nn.functional as F

from pyg_sgg.nn.causal_relation_head import CausalRelationHead
from pyg_sgg.nn.sgb_relation_head import SGBRelationHead

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sgb_predictor_golden.pt"


def sgb_head_to_pyg(weights, form, vision):
    """SGB's predictor state dict under pyg_sgg's names: VCTree's output map is SGB's
    ``ctx_compress`` (pyg_sgg: ``rel_compress``), the bias table is ``obj_baseline``."""
    out = {}
    for k, v in weights.items():
        if k.startswith("up_dim.") and not vision:
            continue  # SGB builds it without union features too, and never calls it
        if form == "vctree" and k.startswith("ctx_compress."):
            k = "rel_compress." + k.split(".", 1)[1]
        out[k.replace("freq_bias.obj_baseline.", "freq_bias.embedding.")] = v
    return out


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN)


def pair_index(golden):
    """SGB's per-image ``rel_pair_idxs`` as one ``[2, E]`` index into the batch."""
    counts = torch.tensor(golden["counts"])
    offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
    return torch.cat([p.t() + o for p, o in zip(golden["rel_pair_idxs"], offsets)], 1)


@pytest.mark.parametrize("case", ["motifs", "motifs_no_vision", "vctree", "transformer"])
def test_matches_sgb_predictor(golden, case):
    g = golden[case]
    form = case.split("_")[0]
    edge_index = pair_index(golden)
    union = g["union_features"]
    head = SGBRelationHead(form, golden["hidden"], g["rel_dists"].size(1),
                           golden["pred_dist"].size(0),
                           edge_channels=union.size(1) if g["vision"] else None,
                           pooling_channels=g["pooling"], pred_dist=golden["pred_dist"])
    head.load_state_dict(sgb_head_to_pyg(g["weights"], form, g["vision"]))
    out = head.eval()(golden["edge_ctx"], edge_index, edge_attr=union,
                      obj_labels=golden["obj_preds"])
    assert torch.allclose(out, g["rel_dists"], atol=1e-5, rtol=1e-5)


def test_causal_matches_sgb(golden):
    """SGB's causal predictor ('sum' fusion): the factual logits (test and training), the
    TDE logits against the context of the averaged input, the three auxiliary losses."""
    g = golden["causal"]
    edge_index, union = pair_index(golden), g["union_features"]
    num_predicates = g["rel_dists"].size(1)
    head = CausalRelationHead(golden["hidden"], num_predicates, golden["pred_dist"].size(0),
                              union.size(1), g["pooling"], golden["pred_dist"])
    weights = {k.replace("post_cat.0.", "post_cat.").replace("freq_bias.obj_baseline.",
                                                             "freq_bias.embedding."): v
               for k, v in g["weights"].items() if "." in k}  # not SGB's NIE / TE buffers
    head.load_state_dict(weights)
    ctx, labels = golden["edge_ctx"], golden["obj_preds"]
    b = head.branches(ctx, edge_index, union, obj_labels=labels)
    for ref in (g["rel_dists"], g["rel_dists_train"]):
        torch.testing.assert_close(b.vis + b.ctx + b.frq, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(head.tde(ctx, g["edge_ctx_avg"], edge_index),
                               g["rel_dists_tde"], atol=1e-5, rtol=1e-5)
    for name, logits in b._asdict().items():
        torch.testing.assert_close(float(F.cross_entropy(logits, g["rel_labels"])),
                                   g["losses"][f"auxiliary_{name}"], atol=1e-5, rtol=1e-5)


def test_initialisation_as_sgb():
    head = SGBRelationHead("vctree", 64, 5, 7, edge_channels=24, pooling_channels=48)
    assert abs(float(head.post_emb.weight.detach().std()) - 10 / 64 ** 0.5) < 0.1
    for lin in (head.post_emb, head.post_cat, head.rel_compress, head.up_dim):
        assert torch.count_nonzero(lin.bias) == 0
    xavier_std = (2 / (48 + 24)) ** 0.5
    assert abs(float(head.up_dim.weight.detach().std()) - xavier_std) < 0.03
    assert SGBRelationHead("vctree", 64, 5, 7, edge_channels=48, pooling_channels=48).up_dim \
        is None


@pytest.mark.parametrize("form", ["motifs", "vctree", "transformer", "imp"])
def test_empty_graphs_and_errors(form):
    head = SGBRelationHead(form, 8, 5, 4, edge_channels=6, pooling_channels=10,
                           edge_state_channels=3)
    out = head(torch.zeros(0, 8), torch.zeros(2, 0, dtype=torch.long),
               edge_attr=torch.zeros(0, 6), obj_labels=torch.zeros(0, dtype=torch.long),
               edge_states=torch.zeros(0, 3))
    assert out.shape == (0, 5)
    one = head(torch.randn(1, 8), torch.zeros(2, 0, dtype=torch.long),
               edge_attr=torch.zeros(0, 6), obj_labels=torch.ones(1, dtype=torch.long),
               edge_states=torch.zeros(0, 3))
    assert one.shape == (0, 5)
    if form == "imp":
        assert head.freq_bias is None  # SGB's IMPPredictor has none
        with pytest.raises(ValueError, match="edge_states"):
            head(torch.randn(2, 8), torch.tensor([[0], [1]]))
    else:
        with pytest.raises(ValueError, match="edge_attr"):
            head(torch.randn(2, 8), torch.tensor([[0], [1]]),
                 obj_labels=torch.ones(2, dtype=torch.long))
    with pytest.raises(ValueError, match="form 'sgdet'"):
        SGBRelationHead("sgdet", 8, 5, 4)


def test_union_features_gate_the_pairs_and_train():
    torch.manual_seed(0)
    head = SGBRelationHead("motifs", 8, 5, 4, edge_channels=6, pooling_channels=10)
    h, ei = torch.randn(3, 8, requires_grad=True), torch.tensor([[0, 1, 2], [1, 2, 0]])
    u, labels = torch.rand(3, 6), torch.tensor([1, 2, 3])
    out = head(h, ei, edge_attr=u, obj_labels=labels)
    bias = head.freq_bias(labels[ei[0]], labels[ei[1]])
    zero_union = head(h, ei, edge_attr=torch.zeros(3, 6), obj_labels=labels)
    # zero union features: only rel_compress(post_cat(.) * up_dim bias = 0) + bias remain
    assert torch.allclose(zero_union, head.rel_compress.bias + bias, atol=1e-6)
    assert not torch.allclose(out, zero_union)
    out.sum().backward()
    assert h.grad.abs().sum() > 0 and head.post_emb.weight.grad.abs().sum() > 0
