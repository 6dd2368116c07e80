import pytest
import torch

from pyg_sgg.methods.concept_reconstruction import FORMS, cr_loss, misalign_background


@pytest.mark.parametrize("form", FORMS)
def test_zero_when_parent_equals_child(form):
    z = torch.randn(7, 5, requires_grad=True)
    assert abs(float(cr_loss(z.detach(), z, form))) < 1e-6
    assert abs(float(cr_loss(z.detach(), z, form, code_form=True))) < 1e-6
    other = torch.randn(7, 5)
    loss = cr_loss(other, z, form)
    assert float(loss) > 0
    loss.backward()
    assert z.grad.abs().sum() > 0
    assert float(cr_loss(z[:0].detach(), z[:0], form)) == 0.0  # no pairs


def test_forms_by_hand():
    zp, zc = torch.randn(4, 3), torch.randn(4, 3)
    p, c = zp.softmax(-1), zc.softmax(-1)
    assert torch.allclose(cr_loss(zp, zc, "l2"), ((p - c) ** 2).sum(-1).mean())
    assert torch.allclose(cr_loss(zp, zc, "l1"), (p - c).abs().sum(-1).mean())
    kl = (p * (p.log() - c.log())).sum(-1).mean()
    assert torch.allclose(cr_loss(zp, zc, "kl"), kl, atol=1e-6)
    # the public code: 0.5 * L1Loss(mean over all entries) * number of rows
    assert torch.allclose(cr_loss(zp, zc, code_form=True), 0.5 * (p - c).abs().mean() * 4)
    with pytest.raises(ValueError, match="form"):
        cr_loss(zp, zc, "bogus")


def test_misalign_permutes_background_rows_only():
    z = torch.arange(12.0).view(6, 2)
    label = torch.tensor([3, 0, 0, 1, 0, 0])
    g = torch.Generator().manual_seed(1)
    out = misalign_background(z, label, g)
    fg = label > 0
    assert torch.equal(out[fg], z[fg])
    assert sorted(out[~fg][:, 0].tolist()) == sorted(z[~fg][:, 0].tolist())
