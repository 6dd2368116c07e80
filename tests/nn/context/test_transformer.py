import pytest
import torch

from pyg_sgg.nn import TransformerContext


def _nodes(n, d=16, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    dist = torch.softmax(torch.randn(n, c, generator=g), dim=-1)
    return torch.randn(n, d, generator=g), torch.rand(n, 9, generator=g), dist


def _model(**kwargs):
    return TransformerContext(16, 8, 5, embed_dim=6, num_obj_layers=2, num_edge_layers=1,
                              heads=2, **kwargs)


def test_transformer_repr_and_sizes():
    model = _model()
    assert str(model) == ("TransformerContext(16, 8, num_classes=5, num_obj_layers=2, "
                          "num_edge_layers=1, heads=2)")
    x, pos, dist = _nodes(4)
    out = model(x, pos, dist, None, torch.zeros(4, dtype=torch.long))
    assert out.node_states.size() == (4, 8)
    assert out.obj_logits.size() == (4, 5)
    assert out.edge_states is None


def test_transformer_class_embeddings_init():
    emb = torch.randn(5, 6)
    model = _model(class_embeddings=emb)
    assert torch.equal(model.obj_embed.weight.detach(), emb)
    with pytest.raises(ValueError, match="TransformerContext: 'class_embeddings'"):
        _model(class_embeddings=torch.randn(4, 6))


def test_transformer_empty_graphs_in_training():
    model = _model().train()
    # 0 objects overall
    x, pos, dist = _nodes(0)
    out = model(x, pos, dist, None, torch.zeros(0, dtype=torch.long))
    assert out.node_states.size() == (0, 8) and out.obj_logits.size() == (0, 5)
    # a 1-object graph next to an empty graph (batch id 1 has no nodes)
    x, pos, dist = _nodes(3)
    batch = torch.tensor([0, 2, 2])
    out = model(x, pos, dist, None, batch)
    assert out.node_states.size() == (3, 8)
    loss = out.node_states.sum() + out.obj_logits.sum()
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters()
               if p.grad is not None)
