import pytest
import torch

from pyg_sgg.nn import MotifsContext
from pyg_sgg.nn.context import CONTEXT_REGISTRY


def _nodes(n, d=16, c=5, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    dist = torch.softmax(torch.randn(n, c, generator=g), dim=-1)
    pos = torch.rand(n, 9, generator=g)
    return (torch.randn(n, d, generator=g).to(dtype), pos.to(dtype), dist.to(dtype))


def _model(**kwargs):
    torch.manual_seed(0)
    return MotifsContext(16, 8, 5, embed_dim=6, pos_channels=4, **kwargs)


def test_motifs_repr_sizes_and_registry():
    model = _model()
    assert str(model) == "MotifsContext(16, 8, num_classes=5, order='leftright')"
    assert CONTEXT_REGISTRY.get("motifs") is MotifsContext
    x, pos, dist = _nodes(4)
    for labels in (None, torch.tensor([1, 2, 3, 4])):
        out = model(x, pos, dist, None, torch.zeros(4, dtype=torch.long), obj_labels=labels)
        assert out.node_states.size() == (4, 8)
        assert out.obj_logits.size() == (4, 5)
        assert out.edge_states is None


def test_motifs_bad_input_and_init():
    emb = torch.randn(5, 6)
    model = _model(class_embeddings=emb)
    assert torch.equal(model.edge_embed.weight.detach(), emb)
    with pytest.raises(ValueError, match="MotifsContext: .class_embeddings. has shape"):
        _model(class_embeddings=torch.randn(4, 6))
    with pytest.raises(ValueError, match="MotifsContext: .order. must be one of"):
        _model(order="topdown")
    x, pos, dist = _nodes(3)
    with pytest.raises(ValueError, match="MotifsContext: 'pos' has shape"):
        model(x, pos[:, :4], dist)
    with pytest.raises(ValueError, match="MotifsContext: 'obj_dist' has shape"):
        model(x, pos, dist[:, :3])


def test_motifs_predcls_logits_are_onehot():
    model = _model().eval()
    x, pos, _ = _nodes(3)
    labels = torch.tensor([2, 1, 4])
    dist = torch.nn.functional.one_hot(labels, 5).float()
    out = model(x, pos, dist, None, None, obj_labels=labels)
    assert torch.equal(out.obj_logits.argmax(-1), labels)
    assert out.obj_logits.max() == 1000.0 and out.obj_logits.min() == -1000.0


@pytest.mark.parametrize("order", ["leftright", "confidence", "size"])
@pytest.mark.parametrize("labels_mode", ["none", "predcls", "forced"])
def test_motifs_batching_equivalence(order, labels_mode):
    model = _model(order=order).double()
    model.train(labels_mode == "forced")  # teacher forcing needs training mode
    model.pos_mlp.eval()  # SGB's BatchNorm: training statistics are the whole batch's
    model.decoder.dropout = 0.0  # the recurrent dropout mask
    graphs = [_nodes(n, seed=n, dtype=torch.float64) for n in (3, 1, 5)]
    labels = [torch.randint(1, 5, (g[0].size(0),)) for g in graphs]
    if labels_mode == "predcls":
        graphs = [(g[0], g[1], torch.nn.functional.one_hot(lab, 5).double())
                  for g, lab in zip(graphs, labels)]
    x, pos, dist = (torch.cat([g[i] for g in graphs]) for i in range(3))
    batch = torch.tensor([0, 0, 0, 2, 3, 3, 3, 3, 3])  # graph 1 is empty
    all_labels = None if labels_mode == "none" else torch.cat(labels)
    out = model(x, pos, dist, None, batch, obj_labels=all_labels)
    start = 0
    for g, lab in zip(graphs, labels):
        n = g[0].size(0)
        single = model(*g, None, None, obj_labels=None if labels_mode == "none" else lab)
        assert torch.allclose(out.node_states[start:start + n], single.node_states)
        assert torch.allclose(out.obj_logits[start:start + n], single.obj_logits)
        start += n


@pytest.mark.parametrize("with_labels", [False, True])
def test_motifs_left_to_right_order(with_labels):
    """Outputs depend on box positions, not on node order: shuffling the nodes (with
    distinct box centres) permutes the outputs accordingly."""
    model = _model().double().eval()
    x, pos, dist = _nodes(6, dtype=torch.float64)
    pos[:, 2] = torch.tensor([0.5, 0.1, 0.9, 0.3, 0.7, 0.2], dtype=torch.float64)
    labels = torch.randint(1, 5, (6,)) if with_labels else None
    out = model(x, pos, dist, None, None, obj_labels=labels)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    out_p = model(x[perm], pos[perm], dist[perm], None, None,
                  obj_labels=labels[perm] if with_labels else None)
    assert torch.allclose(out_p.node_states, out.node_states[perm])
    assert torch.allclose(out_p.obj_logits, out.obj_logits[perm])
    # the sequence really is ordered: moving one box changes the other nodes' states
    pos2 = pos.clone()
    pos2[1, 2] = 0.95  # node 1 moves from the last to the first position (right to left)
    out2 = model(x, pos2, dist, None, None, obj_labels=labels)
    assert not torch.allclose(out2.node_states[0], out.node_states[0])


def test_motifs_greedy_decoding_feeds_back_predictions():
    """The greedy decoder equals teacher forcing with its own predicted labels."""
    model = _model().double()
    x, pos, dist = _nodes(5, dtype=torch.float64)
    model.eval()
    greedy = model(x, pos, dist)
    pred = greedy.obj_logits[:, 1:].argmax(-1) + 1
    model.train()
    model.pos_mlp.eval()  # the same BatchNorm statistics in both calls
    model.decoder.dropout = 0.0  # the recurrent dropout mask
    forced = model(x, pos, dist, obj_labels=pred)
    assert torch.allclose(greedy.obj_logits, forced.obj_logits)
    assert torch.allclose(greedy.node_states, forced.node_states)


def test_motifs_empty_graphs():
    model = _model().train()
    x, pos, dist = _nodes(0)
    out = model(x, pos, dist, None, torch.zeros(0, dtype=torch.long))
    assert out.node_states.size() == (0, 8) and out.obj_logits.size() == (0, 5)
    x, pos, dist = _nodes(1)
    out = model.eval()(x, pos, dist, None, None)
    assert out.node_states.size() == (1, 8)
    model.train()
    x, pos, dist = _nodes(3)
    batch = torch.tensor([0, 2, 2])  # a 1-object graph, an empty graph, a 2-object graph
    out = model(x, pos, dist, None, batch, obj_labels=torch.tensor([1, 2, 3]))
    (out.node_states.sum() + out.obj_logits.sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters()
               if p.grad is not None)


def test_motifs_training_smoke():
    torch.manual_seed(0)
    model = _model(dropout=0.0)
    head = torch.nn.Linear(8, 3)
    opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=0.01)
    x, pos, dist = _nodes(12, seed=1)
    batch = torch.tensor([0] * 5 + [1] * 3 + [2] * 4)
    labels = torch.randint(1, 5, (12,))
    target = torch.randint(0, 3, (12,))
    losses = []
    for _ in range(30):
        out = model(x, pos, dist, None, batch, obj_labels=labels)
        loss = (torch.nn.functional.cross_entropy(head(out.node_states), target)
                + torch.nn.functional.cross_entropy(out.obj_logits, labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_motifs_sgdet_decoding_applies_label_nms():
    """With ``nms_threshold`` the edge context embeds the label-NMS labels, not the argmax:
    two identical boxes whose decoder argmax is the same class get two different labels."""
    torch.manual_seed(0)
    plain = _model().double().eval()
    nms = _model(nms_threshold=0.5).double().eval()
    nms.load_state_dict(plain.state_dict())
    x, pos, dist = _nodes(2, dtype=torch.float64)
    pos[:, 4:8] = torch.tensor([0.1, 0.2, 0.5, 0.6], dtype=torch.float64)  # x1 y1 x2 y2
    x[1], pos[1], dist[1] = x[0], pos[0], dist[0]  # a duplicate detection
    a, b = plain(x, pos, dist), nms(x, pos, dist)
    assert torch.equal(a.obj_logits, b.obj_logits)  # the decoder itself is unchanged
    argmax = a.obj_logits[:, 1:].argmax(-1) + 1
    assert argmax[0] == argmax[1]
    assert not torch.allclose(a.node_states, b.node_states)
