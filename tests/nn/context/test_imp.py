import pytest
import torch

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.nn import IMPContext


def _graph(n, d=16, de=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = all_pairs(torch.tensor([n]))
    return (torch.randn(n, d, generator=g), torch.rand(n, 9, generator=g), edge_index,
            torch.randn(edge_index.size(1), de, generator=g))


def test_imp_repr_and_sizes():
    conv = IMPContext(16, 8, 5, edge_channels=6)
    assert str(conv) == "IMPContext(16, 8, num_classes=5, num_iterations=3)"
    x, pos, edge_index, edge_attr = _graph(4)
    out = conv(x, pos, None, edge_index, None, edge_attr=edge_attr)
    assert out.node_states.size() == (4, 8)
    assert out.obj_logits.size() == (4, 5)
    assert out.edge_states.size() == (12, 8)
    # without union features the edge states start from the node pair
    conv2 = IMPContext(16, 8, 5, num_iterations=2, aggr="sum")
    out2 = conv2(x, pos, None, edge_index)
    assert out2.edge_states.size() == (12, 8)
    with pytest.raises(ValueError, match="IMPContext: 'edge_attr' is required"):
        conv(x, pos, None, edge_index)


@pytest.mark.parametrize("n", [0, 1])
def test_imp_empty(n):
    conv = IMPContext(16, 8, 5, edge_channels=6)
    x, pos, edge_index, edge_attr = _graph(n)
    out = conv(x, pos, None, edge_index, torch.zeros(n, dtype=torch.long),
               edge_attr=edge_attr)
    assert out.node_states.size() == (n, 8)
    assert out.edge_states.size() == (0, 8)
    (out.node_states.sum() + out.obj_logits.sum()).backward()


def test_imp_compile():
    conv = IMPContext(16, 8, 5, edge_channels=6, num_iterations=2).eval()
    x, pos, edge_index, edge_attr = _graph(4)
    expected = conv(x, pos, None, edge_index, None, edge_attr=edge_attr)
    compiled = torch.compile(conv, fullgraph=True)  # fails on any graph break
    out = compiled(x, pos, None, edge_index, None, edge_attr=edge_attr)
    assert torch.allclose(out.node_states, expected.node_states, atol=1e-5)
    assert torch.allclose(out.edge_states, expected.edge_states, atol=1e-5)
