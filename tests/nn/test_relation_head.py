import pytest
import torch

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.nn import RelationHead, pair_geometry
from pyg_sgg.nn.box_geometry import box_geometry
from pyg_sgg.nn.relation_head import PAIR_GEOMETRY_DIM


def _inputs(n=4, h=8, du=6):
    boxes = torch.tensor([[0., 0., 10., 10.], [5., 5., 20., 30.], [40., 0., 60., 20.],
                          [0., 30., 50., 60.]])[:n]
    pos = box_geometry(boxes, torch.tensor([[64, 64]]).expand(n, 2))
    edge_index = all_pairs(torch.tensor([n]))
    return (torch.randn(n, h), edge_index, torch.randn(edge_index.size(1), du), pos,
            torch.tensor([1, 2, 3, 1])[:n])


def test_pair_geometry():
    _, edge_index, _, pos, _ = _inputs()
    g = pair_geometry(pos, edge_index)
    assert g.size() == (12, PAIR_GEOMETRY_DIM)
    assert torch.isfinite(g).all()
    # IoU is symmetric; non-overlapping boxes (0, 2) have IoU 0
    e02 = ((edge_index[0] == 0) & (edge_index[1] == 2)).nonzero().item()
    e20 = ((edge_index[0] == 2) & (edge_index[1] == 0)).nonzero().item()
    assert g[e02, 22] == 0 and g[e20, 22] == 0
    e01 = ((edge_index[0] == 0) & (edge_index[1] == 1)).nonzero().item()
    e10 = ((edge_index[0] == 1) & (edge_index[1] == 0)).nonzero().item()
    assert g[e01, 22] > 0 and torch.isclose(g[e01, 22], g[e10, 22])
    assert torch.allclose(g[e01, 20], -g[e10, 20])  # log width ratios


def test_relation_head_full():
    x, edge_index, edge_attr, pos, labels = _inputs()
    pred_dist = torch.randn(4, 4, 5)
    head = RelationHead(8, 5, 4, hidden_channels=16, edge_channels=6, edge_state_channels=3,
                        pred_dist=pred_dist)
    assert str(head) == "RelationHead(8, 5, num_classes=4, freq_bias=True)"
    out = head(x, edge_index, edge_attr, pos, obj_labels=labels,
               edge_states=torch.randn(12, 3))
    assert out.size() == (12, 5)
    # soft look-up with one-hot distributions equals the hard one
    soft = head(x, edge_index, edge_attr, pos, obj_dist=torch.nn.functional.one_hot(
        labels, 4).float(), edge_states=torch.zeros(12, 3))
    hard = head(x, edge_index, edge_attr, pos, obj_labels=labels,
                edge_states=torch.zeros(12, 3))
    assert torch.allclose(soft, hard, atol=1e-5)
    with pytest.raises(ValueError, match="RelationHead: edge_attr"):
        head(x, edge_index, None, pos, obj_labels=labels, edge_states=torch.zeros(12, 3))


def test_relation_head_frequency_baseline_and_empty():
    pred_dist = torch.randn(4, 4, 5)
    head = RelationHead(0, 5, 4, use_geometry=False, pred_dist=pred_dist)
    x, edge_index, _, pos, labels = _inputs()
    out = head(x.new_zeros(4, 0), edge_index, obj_labels=labels)
    assert torch.allclose(out, pred_dist[labels[edge_index[0]], labels[edge_index[1]]])
    assert sum(p.numel() for p in head.parameters()) == 16 * 5

    full = RelationHead(8, 5, 4, hidden_channels=16, edge_channels=6)
    for n in (0, 1):
        x, edge_index, edge_attr, pos, labels = _inputs(n)
        assert edge_index.size(1) == 0
        assert full(x, edge_index, edge_attr, pos, obj_labels=labels).size() == (0, 5)
