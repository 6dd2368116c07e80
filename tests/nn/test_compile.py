"""``torch.compile`` of every layer in ``pyg_sgg.nn`` equals eager; layers without
data-dependent control flow compile as one graph (``fullgraph=True`` raises on a break).
The context encoders are covered by ``context/test_contract.py``."""
import pytest
import torch

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.nn import (BiTreeLSTM, EdgeGNN, EnergyModel, FrequencyBias, GatedPooling,
                        ImageGraphGGNN, RelationHead)
from pyg_sgg.nn.box_geometry import box_geometry


def _graph(n=4, f=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = all_pairs(torch.tensor([n]))
    xy = torch.rand(n, 2, generator=g) * 40
    pos = box_geometry(torch.cat([xy, xy + 10], 1), torch.tensor([[64, 64]]).expand(n, 2))
    return torch.randn(n, f, generator=g), edge_index, pos


def _cases():
    x, ei, pos = _graph()
    e = torch.randn(ei.size(1), 8)
    batch = torch.zeros(4, dtype=torch.long)
    labels = torch.tensor([1, 2, 3, 1])
    yield "ImageGraphGGNN", ImageGraphGGNN(8, num_layers=2), (x, ei), {}, True
    yield "EdgeGNN", EdgeGNN(8, 8, num_layers=2), (x, ei, e), {}, True
    yield ("GatedPooling", GatedPooling(8, 5, edge_channels=8), (x, batch, e,
           torch.zeros(ei.size(1), dtype=torch.long)), {"dim_size": 1}, True)
    yield ("FrequencyBias", FrequencyBias(4, 5, torch.rand(4, 4, 5)), (labels[ei[0]],
           labels[ei[1]]), {}, True)
    yield ("RelationHead", RelationHead(8, 5, 4, hidden_channels=16, edge_channels=8),
           (x, ei, e, pos), {"obj_labels": labels}, True)
    yield ("EnergyModel", EnergyModel(8, 5, 6, hidden_channels=8, pos_channels=6),
           (x, torch.rand(4, 5), pos, ei, torch.rand(ei.size(1), 6), batch),
           {"num_graphs": 1}, True)
    # the Tree-LSTM walks the tree level by level (a data-dependent number of steps)
    yield ("BiTreeLSTM", BiTreeLSTM(8, 6), (x, torch.tensor([1, 3, -1, -1]),
           torch.tensor([2, -1, -1, -1])), {}, False)


@pytest.mark.parametrize("name,layer,args,kwargs,fullgraph", list(_cases()),
                         ids=[c[0] for c in _cases()])
def test_compile_equals_eager(name, layer, args, kwargs, fullgraph):
    torch.manual_seed(0)
    layer = layer.eval()
    expected = layer(*args, **kwargs)
    torch._dynamo.reset()
    out = torch.compile(layer, backend="aot_eager", fullgraph=fullgraph)(*args, **kwargs)
    for a, b in zip(torch.utils._pytree.tree_leaves(out),
                    torch.utils._pytree.tree_leaves(expected)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
