"""The Polar IoU loss against its definition (a per-instance loop), hand cases and empties;
the polar contours (targets from masks, masks assembled from rays)."""
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_sgg.losses.polar_iou import polar_iou, polar_iou_loss
from pyg_sgg.nn.polar_contour import polar_targets, rasterize_polar, ray_angles


def test_two_concentric_circles():
    """Rays of radii r1 and r2 from one centre: polar IoU r1 / r2, loss log(r2 / r1)."""
    r1, r2 = 3.0, 5.0
    a, b = torch.full((1, 36), r1), torch.full((1, 36), r2)
    assert math.isclose(float(polar_iou(a, b)), r1 / r2, rel_tol=1e-6)
    assert math.isclose(float(polar_iou_loss(a, b)), math.log(r2 / r1), rel_tol=1e-6)
    assert float(polar_iou_loss(b, b)) == 0.0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 6), rays=st.integers(3, 40), seed=st.integers(0, 2**16))
def test_equals_a_loop_over_instances(n, rays, seed):
    g = torch.Generator().manual_seed(seed)
    pred, target = torch.rand(n, rays, generator=g) * 10, torch.rand(n, rays, generator=g) * 10
    weight = (torch.rand(n, generator=g) > 0.3).float()
    per = []
    for i in range(n):
        hi = sum(max(float(p), float(t)) for p, t in zip(pred[i], target[i]))
        lo = sum(min(float(p), float(t)) for p, t in zip(pred[i], target[i]))
        per.append(math.log(hi / lo))
    got = polar_iou_loss(pred, target, weight)
    if n == 0 or weight.sum() == 0:
        assert float(got) == 0.0
    else:
        want = sum(w * v for w, v in zip(weight.tolist(), per)) / float(weight.sum())
        assert math.isclose(float(got), want, rel_tol=1e-5)


def test_finite_gradients_at_extremes():
    pred = torch.tensor([[0.0, 1e-9, 1e6, 5.0]], requires_grad=True)
    loss = polar_iou_loss(pred, torch.tensor([[1e6, 0.0, 1e-9, 5.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    empty = torch.zeros(0, 36, requires_grad=True)
    out = polar_iou_loss(empty, torch.zeros(0, 36))
    out.backward()
    assert float(out.detach()) == 0.0


def _disc(R, cx, cy, r):
    ys, xs = torch.meshgrid(torch.arange(R) + 0.5, torch.arange(R) + 0.5, indexing="ij")
    return (((xs - cx) ** 2 + (ys - cy) ** 2) <= r * r).float()


def test_polar_targets_of_a_disc_and_a_box():
    R = 28
    masks = torch.stack([_disc(R, 14, 12, 8), torch.zeros(R, R), torch.zeros(R, R)])
    masks[2, 4:10, 6:26] = 1  # a 20 x 6 box
    centre, rays = polar_targets(masks, 36)
    assert torch.allclose(centre[0], torch.tensor([14.0, 12.0]))
    assert (rays[0] - 8).abs().max() <= 0.75  # the disc's radius, to the sampling step
    assert torch.equal(centre[1], torch.tensor([14.0, 14.0])) and (rays[1] == 1e-6).all()
    assert torch.allclose(centre[2], torch.tensor([16.0, 7.0]))
    # rays 0, 9, 18, 27: right, down, left, up
    assert abs(float(rays[2, 0]) - 10) <= 0.5 and abs(float(rays[2, 18]) - 10) <= 0.5
    assert abs(float(rays[2, 9]) - 3) <= 0.5 and abs(float(rays[2, 27]) - 3) <= 0.5


def test_rasterised_contours_give_the_masks_back():
    R = 28
    masks = torch.stack([_disc(R, 14, 12, 8), _disc(R, 8, 20, 5)])
    masks = torch.cat([masks, torch.zeros(1, R, R)])
    masks[2, 5:20, 3:25] = 1
    centre, rays = polar_targets(masks, 36)
    back = rasterize_polar(centre, rays, R) > 0
    for m, b in zip(masks, back):
        iou = float((m.bool() & b).sum() / (m.bool() | b).sum())
        assert iou > 0.9, iou
    assert rasterize_polar(torch.zeros(0, 2), torch.zeros(0, 36), R).shape == (0, R, R)


def test_rasterize_is_differentiable_in_centre_and_rays():
    centre = torch.tensor([[14.0, 14.0]], requires_grad=True)
    rays = (6.0 + 3.0 * torch.cos(ray_angles(36)))[None].requires_grad_()  # not symmetric
    torch.sigmoid(rasterize_polar(centre, rays, 28)).sum().backward()
    assert centre.grad.abs().sum() > 0 and rays.grad.abs().sum() > 0
    assert torch.allclose(ray_angles(4), torch.tensor([0.0, math.pi / 2, math.pi, 3 * math.pi / 2]))
