"""SGB's Motifs decoder: recurrent dropout, label feedback, shapes."""
import torch

from pyg_sgg.nn.context.highway_decoder import HighwayLSTMDecoder


def _decoder(dropout=0.0):
    torch.manual_seed(0)
    return HighwayLSTMDecoder(6, 8, num_classes=5, embed_dim=4, dropout=dropout)


def test_recurrent_dropout_mask_is_one_per_sequence():
    """One mask per sequence, the same units dropped (and the rest scaled by 1 / keep) at
    every step, as SGB's ``get_dropout_mask``; none at test."""
    dec = _decoder(dropout=0.5).train()
    seen = []
    dec.out.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    dec(torch.randn(3, 4, 6))
    states = torch.stack(seen, dim=1)  # [B, T, H]
    zero = states == 0
    assert bool(zero.any()) and bool((~zero).any())
    assert torch.equal(zero, zero[:, :1].expand_as(zero))
    seen.clear()
    dec.eval()(torch.randn(3, 4, 6))
    assert not bool((torch.stack(seen, dim=1) == 0).any())


def test_labels_fed_back_background_takes_the_prediction():
    dec = _decoder().train()
    x = torch.randn(2, 5, 6)
    labels = torch.tensor([[1, 0, 3, 0, 2], [4, 4, 0, 1, 1]])
    logits, fed = dec(x, labels)
    assert logits.shape == (2, 5, 5) and fed.shape == (2, 5)
    own = logits[..., 1:].argmax(-1) + 1
    assert torch.equal(fed, torch.where(labels > 0, labels, own))
    greedy_logits, greedy = dec(x)
    assert torch.equal(greedy, greedy_logits[..., 1:].argmax(-1) + 1)
    # feeding the greedy labels back as given labels reproduces the greedy run
    forced_logits, _ = dec(x, greedy)
    torch.testing.assert_close(forced_logits, greedy_logits)


def test_highway_gate_mixes_in_the_input_projection():
    """With the highway gate forced shut (bias -inf on its rows) the state is the
    input projection alone."""
    dec = _decoder().eval()
    with torch.no_grad():
        dec.state_lin.bias[32:40] = -1e4  # the 5th gate block: highway
    u = torch.randn(3, 10)
    h, _ = dec.cell(u, torch.randn(3, 8), torch.randn(3, 8))
    torch.testing.assert_close(h, dec.input_lin(u)[:, 40:48])
