import pytest
import torch

from pyg_sgg.nn import BiTreeLSTM
from pyg_sgg.nn.context.highway import block_orthogonal_
from pyg_sgg.nn.context.tree_lstm import TreeLSTMDecoder, tree_levels

# a forest: 0 -> (1, 2), 1 -> (3, -), 2 -> (-, 4), 4 -> (5, 6); 7 alone; 8 -> (-, 9)
LEFT = torch.tensor([1, 3, -1, -1, 5, -1, -1, -1, -1, -1])
RIGHT = torch.tensor([2, -1, 4, -1, 6, -1, -1, -1, 9, -1])


def _roots(left, right):
    children = set(left.tolist()) | set(right.tolist())
    return [v for v in range(left.numel()) if v not in children]


def _highway_down(x_lin, h_lin, px, u, h, c):
    i, o, f, g, r = (x_lin(u) + h_lin(h)).chunk(5, -1)
    c = torch.sigmoid(i) * torch.tanh(g) + torch.sigmoid(f) * c
    r = torch.sigmoid(r)
    return r * torch.sigmoid(o) * torch.tanh(c) + (1 - r) * px(u), c


def _reference(model, x, left, right):
    """Plain recursion with the equations written out: bottom-up from the leaves, then
    top-down from each root."""
    h = model.out_channels // 2
    zero = x.new_zeros(1, h)
    up, down = {}, {}

    def go_up(v):
        if v < 0:
            return zero, zero
        hl, cl = go_up(int(left[v]))
        hr, cr = go_up(int(right[v]))
        xv = x[v:v + 1]
        i, o, fl, fr, u, r = (model.up_x(xv) + model.up_h_left(hl)
                              + model.up_h_right(hr)).chunk(6, -1)
        c = (torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(fl) * cl
             + torch.sigmoid(fr) * cr)
        r = torch.sigmoid(r)
        up[v] = r * torch.sigmoid(o) * torch.tanh(c) + (1 - r) * model.up_px(xv)
        return up[v], c

    def go_down(v, state):
        if v < 0:
            return
        down[v], c = _highway_down(model.down_x, model.down_h, model.down_px, x[v:v + 1],
                                   *state)
        go_down(int(left[v]), (down[v], c))
        go_down(int(right[v]), (down[v], c))

    for root in _roots(left, right):
        go_up(root)
        go_down(root, (zero, zero))
    return torch.cat([torch.cat([up[v], down[v]], -1) for v in range(x.size(0))])


def test_bi_tree_lstm_equals_recursive_reference():
    torch.manual_seed(0)
    model = BiTreeLSTM(5, 8).double()
    assert str(model) == "BiTreeLSTM(5, 8)"
    x = torch.randn(10, 5, dtype=torch.float64)
    out = model(x, LEFT, RIGHT)
    assert out.size() == (10, 8)
    torch.testing.assert_close(out, _reference(model, x, LEFT, RIGHT))
    assert [lv.tolist() for lv in tree_levels(LEFT, RIGHT)] == [
        [0, 7, 8], [1, 2, 9], [3, 4], [5, 6]]


def test_bi_tree_lstm_recurrent_dropout_one_mask_per_direction():
    """Training drops the same units of every node (one mask per direction and forward)."""
    torch.manual_seed(0)
    model = BiTreeLSTM(5, 8, dropout=0.5).train()
    out = model(torch.randn(10, 5), LEFT, RIGHT)
    zero = out == 0
    assert bool(zero.any()) and bool((~zero).any())
    assert torch.equal(zero, zero[:1].expand_as(zero))
    assert not bool((model.eval()(torch.randn(10, 5), LEFT, RIGHT) == 0).any())


def test_tree_decoder_equals_recursive_reference():
    """At test each node's label embedding goes to its binary children (the start token at
    roots), and the labels are the arg-max over the foreground."""
    torch.manual_seed(0)
    dec = TreeLSTMDecoder(5, 6, num_classes=4, embed_dim=3).double().eval()
    x = torch.randn(10, 5, dtype=torch.float64)
    logits, labels = dec(x, LEFT, RIGHT)
    ref_logits, ref_labels = {}, {}

    def go(v, h, c, emb):
        if v < 0:
            return
        u = torch.cat([x[v:v + 1], emb], -1)
        h, c = _highway_down(dec.x_lin, dec.h_lin, dec.px, u, h, c)
        ref_logits[v] = dec.out(h)
        ref_labels[v] = int(ref_logits[v][0, 1:].argmax()) + 1
        emb = dec.embed.weight[ref_labels[v]][None]
        go(int(LEFT[v]), h, c, emb)
        go(int(RIGHT[v]), h, c, emb)

    zero = x.new_zeros(1, 6)
    for root in _roots(LEFT, RIGHT):
        go(root, zero, zero, dec.embed.weight[:1])
    torch.testing.assert_close(logits, torch.cat([ref_logits[v] for v in range(10)]))
    assert labels.tolist() == [ref_labels[v] for v in range(10)]
    dec.train()  # training samples the labels it passes down; it returns the arg-max
    logits, labels = dec(x, LEFT, RIGHT)
    assert torch.equal(labels, logits[:, 1:].argmax(-1) + 1)


def test_block_orthogonal_blocks():
    w = block_orthogonal_(torch.empty(6, 4), 3, 4)
    for r in (0, 3):
        block = w[r:r + 3]
        torch.testing.assert_close(block @ block.t(), torch.eye(3), atol=1e-5, rtol=0)


def test_bi_tree_lstm_empty_and_bad_input():
    model = BiTreeLSTM(5, 4)
    empty = torch.zeros(0, dtype=torch.long)
    assert model(torch.zeros(0, 5), empty, empty).size() == (0, 4)
    with pytest.raises(ValueError, match="tree_levels: 'left' / 'right' do not form a forest"):
        model(torch.zeros(2, 5), torch.tensor([1, 0]), torch.tensor([-1, -1]))
    with pytest.raises(ValueError, match="tree_levels: 'left' / 'right' do not form a forest"):
        model(torch.zeros(3, 5), torch.tensor([-1, 2, 1]), torch.tensor([-1, -1, -1]))
    with pytest.raises(ValueError, match="BiTreeLSTM: 'out_channels' must be even"):
        BiTreeLSTM(5, 3)
