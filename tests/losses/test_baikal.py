import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_sgg.losses import baikal_loss, baikal_row_losses
from pyg_sgg.losses.baikal import BAIKAL_CMA_COEFFICIENTS


def loop_reference(logits, target, form, eps=1e-6):
    """The paper's formulas, one row and one class at a time in Python floats."""
    c0, c1, c2, c3, c4, c5 = BAIKAL_CMA_COEFFICIENTS
    out = []
    for row, t in zip(logits.tolist(), target.tolist()):
        m = max(row)
        z = sum(math.exp(v - m) for v in row)
        ys = [max(math.exp(v - m) / z, eps) for v in row]
        n = len(row)
        total = 0.0
        for i, y in enumerate(ys):
            x = 1.0 if i == t else 0.0
            if form == "baikal":
                total += math.log(y) - x / y
            else:
                total += c0 * (c1 * math.log(c2 * y) - c3 * (c4 * x) / (c5 * y))
        out.append(-total / n)
    return out


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(1, 6), n=st.integers(2, 8), scale=st.floats(0.1, 8.0),
       seed=st.integers(0, 2**16), form=st.sampled_from(["baikal", "baikal_cma"]))
def test_matches_the_formula_row_by_row(rows, n, scale, seed, form):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, n, generator=g, dtype=torch.float64) * scale
    target = torch.randint(0, n, (rows,), generator=g)
    got = baikal_row_losses(logits, target, form=form)
    want = loop_reference(logits, target, form)
    assert got.tolist() == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_hand_case_uniform_two_classes():
    # y = (1/2, 1/2), target 0: -(1/2) [2 log(1/2) - 2] = 1 + log 2
    out = baikal_loss(torch.zeros(1, 2), torch.tensor([0]))
    assert float(out) == pytest.approx(1 + math.log(2), rel=1e-6)


def test_cma_coefficients_are_the_published_ones():
    assert BAIKAL_CMA_COEFFICIENTS == (2.7279, 0.9863, 1.5352, -1.1135, 1.3716, -0.8411)


def test_baikal_is_not_minimised_by_full_confidence():
    # GLO's point (its Fig. 6): the loss rises again as the target probability nears 1
    target = torch.tensor([0])
    losses = [float(baikal_loss(torch.tensor([[a, 0.0, 0.0]]), target)) for a in (0, 2, 4, 20)]
    assert losses[1] < losses[0] and losses[3] > losses[2]


def test_extreme_probabilities_give_finite_gradients_and_empty_rows_zero():
    logits = torch.tensor([[100.0, -100.0, 0.0], [-100.0, 100.0, 0.0]], requires_grad=True)
    for form in ("baikal", "baikal_cma"):
        loss = baikal_loss(logits, torch.tensor([1, 1]), form=form)
        assert torch.isfinite(loss)
        grad, = torch.autograd.grad(loss, logits)
        assert torch.isfinite(grad).all()
    empty = torch.zeros(0, 3, requires_grad=True)
    loss = baikal_loss(empty, torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert float(loss.detach()) == 0.0
    masked = baikal_loss(logits, torch.tensor([1, 1]), rows=torch.tensor([False, False]))
    assert float(masked.detach()) == 0.0
