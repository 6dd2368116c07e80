"""The call contract of every registered context encoder (``pyg_sgg.nn.context.base``):
declared widths, batching equivalence, permutation equivariance, empty and 1-node graphs,
and ``torch.compile`` equal to eager."""
import pytest
import torch

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.models import context_options
from pyg_sgg.nn.box_geometry import box_geometry
from pyg_sgg.nn.context import CONTEXT_REGISTRY

D, H, C1, DE = 16, 8, 5, 6  # RoI width, hidden width, classes with background, union width
ENCODERS = CONTEXT_REGISTRY.names()
# Encoders whose forward has data-dependent Python control flow (packed LSTM lengths, Prim's
# tree, per-image dense batches): compiled with graph breaks, checked against eager.
FULLGRAPH = {"imp"}


def make(name):
    torch.manual_seed(0)
    prior = torch.log_softmax(torch.randn(C1, C1, 3), -1)  # VCTree's co-occurrence prior
    opts = context_options(name, embed_dim=6, dropout=0.0, edge_channels=DE, heads=2,
                           num_iterations=2, pred_dist=prior)
    return CONTEXT_REGISTRY.get(name)(D, H, C1, **opts).eval()


def graphs(counts, seed=0):
    """Inputs of a batch of graphs with ``counts`` nodes (all ordered pairs as edges)."""
    g = torch.Generator().manual_seed(seed)
    n = sum(counts)
    xy = torch.rand(n, 2, generator=g) * 80
    boxes = torch.cat([xy, xy + 4 + torch.rand(n, 2, generator=g) * 40], 1)
    pos = box_geometry(boxes, torch.tensor([[128, 128]]).expand(n, 2))
    counts_t = torch.tensor(counts)
    batch = torch.repeat_interleave(torch.arange(len(counts)), counts_t)
    ptr = torch.cat([counts_t.new_zeros(1), counts_t.cumsum(0)])
    edge_index = all_pairs(counts_t, ptr)
    dist = torch.softmax(torch.randn(n, C1, generator=g), -1)
    return dict(x=torch.randn(n, D, generator=g), pos=pos, obj_dist=dist, boxes=boxes,
                edge_index=edge_index, batch=batch,
                edge_attr=torch.randn(edge_index.size(1), DE, generator=g))


def run(enc, inp, **kw):
    extra = {"edge_attr": inp["edge_attr"]} if enc.uses_edge_attr else {}
    if enc.uses_boxes:
        extra["boxes"] = inp["boxes"]
    return enc(inp["x"], inp["pos"], inp["obj_dist"], inp["edge_index"], inp["batch"],
               **extra, **kw)


@pytest.mark.parametrize("name", ENCODERS)
def test_declared_widths(name):
    enc = make(name)
    inp = graphs([3, 4])
    out = run(enc, inp)
    assert out.node_states.shape == (7, enc.out_channels)
    assert out.obj_logits.shape == (7, C1)
    if enc.edge_out_channels is None:
        assert out.edge_states is None
    else:
        assert out.edge_states.shape == (inp["edge_index"].size(1), enc.edge_out_channels)


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("with_labels", [False, True])
def test_batching_equivalence(name, with_labels):
    """A batch of graphs (one of them empty) gives each graph's own outputs: images never
    interact."""
    enc = make(name)
    counts = [3, 0, 4]
    both = graphs(counts, seed=1)
    labels = torch.randint(1, C1, (7,), generator=torch.Generator().manual_seed(5))
    out = run(enc, both, obj_labels=labels if with_labels else None)
    n0, e0 = 3, 6
    for sl, esl, shift in ((slice(0, n0), slice(0, e0), 0),
                           (slice(n0, None), slice(e0, None), n0)):
        one = {k: v[sl] for k, v in both.items() if k in ("x", "pos", "obj_dist", "boxes")}
        one.update(edge_index=both["edge_index"][:, esl] - shift,
                   batch=torch.zeros(one["x"].size(0), dtype=torch.long),
                   edge_attr=both["edge_attr"][esl])
        single = run(enc, one, obj_labels=labels[sl] if with_labels else None)
        torch.testing.assert_close(single.node_states, out.node_states[sl], atol=1e-5,
                                   rtol=1e-4)
        torch.testing.assert_close(single.obj_logits, out.obj_logits[sl], atol=1e-5,
                                   rtol=1e-4)
        if out.edge_states is not None:
            torch.testing.assert_close(single.edge_states, out.edge_states[esl], atol=1e-5,
                                       rtol=1e-4)


@pytest.mark.parametrize("name", ENCODERS)
def test_permutation_equivariance(name):
    """Renumbering the nodes of a graph (and its edges) renumbers the outputs."""
    enc = make(name)
    inp = graphs([5], seed=2)
    out = run(enc, inp)
    perm = torch.tensor([3, 0, 4, 1, 2])
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(5)
    p = {k: inp[k][perm] for k in ("x", "pos", "obj_dist", "boxes")}
    p["edge_index"] = inv[inp["edge_index"]]  # the same pairs, in the new numbering
    p["batch"], p["edge_attr"] = inp["batch"], inp["edge_attr"]
    outp = run(enc, p)
    torch.testing.assert_close(outp.node_states, out.node_states[perm], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(outp.obj_logits, out.obj_logits[perm], atol=1e-5, rtol=1e-4)
    if out.edge_states is not None:
        torch.testing.assert_close(outp.edge_states, out.edge_states, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("counts", [[0], [1], [1, 0, 2]])
def test_empty_and_single_node_graphs(name, counts):
    enc = make(name).train()
    inp = graphs(counts, seed=3)
    n = sum(counts)
    labels = torch.randint(1, C1, (n,))
    out = run(enc, inp, obj_labels=labels)
    assert out.node_states.shape == (n, enc.out_channels)
    assert out.obj_logits.shape == (n, C1)
    assert torch.isfinite(out.node_states).all() and torch.isfinite(out.obj_logits).all()
    if n:
        (out.node_states.sum() + out.obj_logits.sum()).backward()
        assert all(torch.isfinite(p.grad).all() for p in enc.parameters()
                   if p.grad is not None)


@pytest.mark.parametrize("name", ENCODERS)
def test_compile_equals_eager(name):
    enc = make(name)
    inp = graphs([3, 4], seed=4)
    expected = run(enc, inp)
    torch._dynamo.reset()
    compiled = torch.compile(enc, backend="aot_eager", fullgraph=name in FULLGRAPH)
    out = run(compiled, inp)
    torch.testing.assert_close(out.node_states, expected.node_states, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.obj_logits, expected.obj_logits, atol=1e-5, rtol=1e-4)
