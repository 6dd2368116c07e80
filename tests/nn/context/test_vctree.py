import pytest
import torch

from pyg_sgg.nn import VCTreeContext
from pyg_sgg.models.losses import tree_score_loss
from pyg_sgg.nn.box_geometry import box_geometry
from pyg_sgg.nn.context import CONTEXT_REGISTRY
from pyg_sgg.nn.context.vctree import overlap_features

BOXES = {}  # x -> its boxes, so that the tests below pass them as the model does


def _nodes(n, d=16, c=5, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    dist = torch.softmax(torch.randn(n, c, generator=g), dim=-1)
    xy = torch.rand(n, 2, generator=g) * 300
    boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 200 + 10], 1)
    pos = box_geometry(boxes, torch.tensor([[600, 800]]).expand(n, 2))
    x = torch.randn(n, d, generator=g).to(dtype)
    BOXES[id(x)] = boxes.to(dtype)
    return x, pos.to(dtype), dist.to(dtype)


class _Model(VCTreeContext):
    def forward(self, x, *args, **kwargs):
        return super().forward(x, *args, boxes=BOXES[id(x)], **kwargs)


def _model(**kwargs):
    torch.manual_seed(0)
    prior = torch.log_softmax(torch.randn(5, 5, 3), -1)
    return _Model(16, 8, 5, embed_dim=6, pos_channels=4, pred_dist=prior, **kwargs)


def test_vctree_repr_sizes_and_registry():
    model = _model()
    assert str(model) == "_Model(16, 8, num_classes=5)"
    assert CONTEXT_REGISTRY.get("vctree") is VCTreeContext
    x, pos, dist = _nodes(4)
    for labels in (None, torch.tensor([1, 2, 3, 4])):
        out = model(x, pos, dist, None, torch.zeros(4, dtype=torch.long), obj_labels=labels)
        assert out.node_states.size() == (4, 8)
        assert out.obj_logits.size() == (4, 5)
        assert out.edge_states is None
    with pytest.raises(ValueError, match="_Model: 'class_embeddings' has shape"):
        _model(class_embeddings=torch.randn(4, 6))
    with pytest.raises(ValueError, match="VCTreeContext: 'batch' must be a sorted"):
        model(x, pos, dist, None, torch.tensor([1, 0, 0, 1]))
    with pytest.raises(ValueError, match="VCTreeContext: 'boxes' of shape"):
        VCTreeContext.forward(model, x, pos, dist)
    with pytest.raises(ValueError, match="VCTreeContext: 'hidden_channels' must be even"):
        VCTreeContext(16, 7, 5)


def test_vctree_predcls_logits_are_onehot():
    model = _model().eval()
    x, pos, _ = _nodes(3)
    labels = torch.tensor([2, 1, 4])
    dist = torch.nn.functional.one_hot(labels, 5).float()
    out = model(x, pos, dist, None, None, obj_labels=labels)
    assert torch.equal(out.obj_logits.argmax(-1), labels)
    assert out.obj_logits.abs().max() == 1000.0


def test_vctree_empty_graphs():
    model = _model().train()
    x, pos, dist = _nodes(0)
    out = model(x, pos, dist, None, torch.zeros(0, dtype=torch.long))
    assert out.node_states.size() == (0, 8) and out.obj_logits.size() == (0, 5)
    assert tree_score_loss(out.pair_scores, torch.zeros(2, 0, dtype=torch.long)) == 0
    x, pos, dist = _nodes(1)
    out = model(x, pos, dist)
    assert out.node_states.size() == (1, 8)
    # SGB scores the diagonal too: one object gives one "unrelated" pair
    torch.testing.assert_close(
        tree_score_loss(out.pair_scores, torch.zeros(2, 0, dtype=torch.long)),
        torch.nn.functional.softplus(out.pair_scores.logits[0, 0, 0]))
    x, pos, dist = _nodes(3)
    batch = torch.tensor([0, 2, 2])  # a 1-object graph, an empty graph, a 2-object graph
    out = model(x, pos, dist, None, batch, obj_labels=torch.tensor([1, 2, 3]))
    loss = out.node_states.sum() + out.obj_logits.sum() + tree_score_loss(
        out.pair_scores, torch.tensor([[1], [2]]))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters()
               if p.grad is not None)


def test_vctree_tree_score_loss_targets():
    model = _model().eval()
    x, pos, dist = _nodes(5)
    batch = torch.tensor([0, 0, 0, 1, 1])
    out = model(x, pos, dist, None, batch)
    logits = out.pair_scores.logits
    rel_index = torch.tensor([[0, 4], [2, 3]])  # 0 -> 2 in graph 0, 4 -> 3 in graph 1
    per_image = []  # SGB: the mean over each image's n x n pairs, then over images
    for b, nodes in ((0, [0, 1, 2]), (1, [3, 4])):
        pairs, target = [], []
        for i, u in enumerate(nodes):
            for j, v in enumerate(nodes):
                pairs.append(logits[b, i, j])
                target.append(float({u, v} in ({0, 2}, {3, 4})))
        per_image.append(torch.nn.functional.binary_cross_entropy_with_logits(
            torch.stack(pairs), torch.tensor(target)))
    expected = torch.stack(per_image).mean()
    assert torch.allclose(tree_score_loss(out.pair_scores, rel_index), expected)
    with pytest.raises(ValueError, match="tree_score_loss: 'rel_index' links nodes of diff"):
        tree_score_loss(out.pair_scores, torch.tensor([[0], [3]]))


def test_vctree_training_smoke():
    torch.manual_seed(0)
    model = _model(dropout=0.0)
    head = torch.nn.Linear(8, 3)
    opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=0.01)
    x, pos, dist = _nodes(12, seed=1)
    batch = torch.tensor([0] * 5 + [1] * 3 + [2] * 4)
    labels = torch.randint(1, 5, (12,))
    target = torch.randint(0, 3, (12,))
    rel_index = torch.tensor([[0, 1, 5, 9], [3, 4, 7, 10]])
    losses, aux = [], []
    for _ in range(30):
        out = model(x, pos, dist, None, batch, obj_labels=labels)
        loss_aux = tree_score_loss(out.pair_scores, rel_index)
        loss = (torch.nn.functional.cross_entropy(head(out.node_states), target)
                + torch.nn.functional.cross_entropy(out.obj_logits, labels) + loss_aux)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        aux.append(loss_aux.item())
    assert losses[-1] < 0.5 * losses[0]
    assert aux[-1] < aux[0]


def test_vctree_deepcopy_after_training_forward():
    # HML freezes a deep copy of the model right after a training step
    import copy
    model = _model()
    x, pos, dist = _nodes(6, seed=2)
    batch = torch.tensor([0] * 4 + [1] * 2)
    out = model(x, pos, dist, None, batch, obj_labels=torch.randint(1, 5, (6,)))
    out.node_states.sum().backward()
    clone = copy.deepcopy(model)  # the module keeps no state of the last forward
    assert out.pair_scores.logits.requires_grad
    for a, b in zip(model.parameters(), clone.parameters()):
        assert torch.equal(a, b) and a is not b
    model.eval(), clone.eval()
    assert torch.equal(model(x, pos, dist, None, batch).node_states,
                       clone(x, pos, dist, None, batch).node_states)


def test_overlap_features_as_sgb():
    """SGB's get_overlap_info for two images: intersections with the "+1" convention, the
    box itself counted, areas over 1024², padding ignored."""
    boxes = torch.tensor([[[0., 0., 9., 9.], [5., 5., 14., 14.], [50., 50., 59., 69.]],
                          [[0., 0., 3., 3.], [0., 0., 0., 0.], [0., 0., 0., 0.]]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    f = overlap_features(boxes, mask)
    s = 1024.0 ** 2
    # box 0: itself (100 px) and box 1 (5 x 5 = 25 px, IoU 25 / 175)
    torch.testing.assert_close(f[0, 0], torch.tensor(
        [2., 125 / s, 1 + 25 / 175, 125 / s / 2, (1 + 25 / 175) / 2, 81 / s]))
    torch.testing.assert_close(f[0, 2], torch.tensor([1., 200 / s, 1., 200 / s, 1., 171 / s]))
    torch.testing.assert_close(f[1, 0], torch.tensor([1., 16 / s, 1., 16 / s, 1., 9 / s]))
