import pytest
import torch

from pyg_sgg.nn import BiTreeLSTM
from pyg_sgg.nn.context.tree_lstm import tree_levels


def _reference(model, x, left, right):
    """Plain recursion: bottom-up from the leaves, then top-down from each root."""
    n, H = x.size(0), model.hidden_channels
    zero = x.new_zeros(H)
    up, down = {}, {}

    def go_up(v):
        if v < 0:
            return zero, zero
        hl, cl = go_up(int(left[v]))
        hr, cr = go_up(int(right[v]))
        up[v] = model.up_step(model.up_x(x[v:v + 1]), hl[None], cl[None], hr[None], cr[None])
        return up[v][0][0], up[v][1][0]

    def go_down(v, state):
        if v < 0:
            return
        h, c = model.down_step(model.down_x(x[v:v + 1]), state[0][None], state[1][None])
        down[v] = h[0]
        go_down(int(left[v]), (h[0], c[0]))
        go_down(int(right[v]), (h[0], c[0]))

    children = set(left.tolist()) | set(right.tolist())
    for root in (v for v in range(n) if v not in children):
        go_up(root)
        go_down(root, (zero, zero))
    return torch.stack([torch.cat([up[v][0][0], down[v]]) for v in range(n)])


def test_bi_tree_lstm_equals_recursive_reference():
    torch.manual_seed(0)
    model = BiTreeLSTM(5, 4).double()
    assert str(model) == "BiTreeLSTM(5, 4)"
    # a forest: 0 -> (1, 2), 1 -> (3, -), 2 -> (-, 4), 4 -> (5, 6); 7 alone; 8 -> (-, 9)
    left = torch.tensor([1, 3, -1, -1, 5, -1, -1, -1, -1, -1])
    right = torch.tensor([2, -1, 4, -1, 6, -1, -1, -1, 9, -1])
    x = torch.randn(10, 5, dtype=torch.float64)
    out = model(x, left, right)
    assert out.size() == (10, 8)
    assert torch.allclose(out, _reference(model, x, left, right))
    assert [lv.tolist() for lv in tree_levels(left, right)] == [
        [0, 7, 8], [1, 2, 9], [3, 4], [5, 6]]


def test_bi_tree_lstm_empty_and_bad_input():
    model = BiTreeLSTM(5, 4)
    empty = torch.zeros(0, dtype=torch.long)
    assert model(torch.zeros(0, 5), empty, empty).size() == (0, 8)
    with pytest.raises(ValueError, match="tree_levels: 'left' / 'right' do not form a forest"):
        model(torch.zeros(2, 5), torch.tensor([1, 0]), torch.tensor([-1, -1]))
    with pytest.raises(ValueError, match="tree_levels: 'left' / 'right' do not form a forest"):
        model(torch.zeros(3, 5), torch.tensor([-1, 2, 1]), torch.tensor([-1, -1, -1]))


def test_down_step_is_an_lstm_cell():
    torch.manual_seed(0)
    model = BiTreeLSTM(5, 4).double()
    cell = torch.nn.LSTMCell(5, 4).double()
    with torch.no_grad():
        cell.weight_ih.copy_(model.down_x.weight)
        cell.bias_ih.copy_(model.down_x.bias)
        cell.weight_hh.copy_(model.down_h.weight)
        cell.bias_hh.zero_()
    x, h, c = (torch.randn(3, k, dtype=torch.float64) for k in (5, 4, 4))
    ours = model.down_step(model.down_x(x), h, c)
    ref = cell(x, (h, c))
    assert torch.allclose(ours[0], ref[0]) and torch.allclose(ours[1], ref[1])
