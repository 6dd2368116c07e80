"""Masks as polar contours (PolarMask, Xie et al., CVPR'20) on an ``R x R`` RoI grid: a centre
and ``n`` ray lengths at the angles ``2 pi k / n`` (``k = 0..n-1``, x right, y down).

* :func:`polar_targets`: the mass centre of each binary mask and, along each ray from it, the
  distance to the farthest sample inside the mask (PolarMask takes the farthest contour point
  of each angle; a ray that meets no mask pixel gets ``1e-6``).
* :func:`rasterize_polar`: the mask logits of a contour, ``sharpness * (d(phi) - r)`` at each
  pixel centre of polar coordinates ``(r, phi)`` about the centre, with ``d(phi)`` the ray
  length interpolated linearly between the two neighbouring rays: positive inside.
Pixel ``(i, j)`` (row, column) has its centre at ``(j + 0.5, i + 0.5)``.
"""
import math

import torch
from torch import Tensor

__all__ = ["ray_angles", "polar_targets", "rasterize_polar"]


def ray_angles(num_rays: int, device=None, dtype=torch.float32) -> Tensor:
    """``[n]`` angles ``2 pi k / n``."""
    return torch.arange(num_rays, device=device, dtype=dtype) * (2 * math.pi / num_rays)


def _pixel_centres(R: int, device, dtype):
    c = torch.arange(R, device=device, dtype=dtype) + 0.5
    return c[None, :].expand(R, R), c[:, None].expand(R, R)  # x, y of each pixel


def polar_targets(masks: Tensor, num_rays: int = 36, step: float = 0.25):
    """Centre ``[N, 2]`` (x, y in grid pixels) and ray lengths ``[N, n]`` of binary masks
    ``[N, R, R]``; an empty mask gets the grid centre and rays of ``1e-6``.

    The rays are sampled every ``step`` pixels up to the grid's diagonal (one gather over
    every mask, ray and sample: no loop)."""
    N, R = masks.size(0), masks.size(-1)
    dev, dt = masks.device, torch.float32
    m = (masks > 0.5).to(dt)
    xs, ys = _pixel_centres(R, dev, dt)
    area = m.sum((1, 2))
    safe = area.clamp_min(1.0)
    centre = torch.stack([(m * xs).sum((1, 2)) / safe, (m * ys).sum((1, 2)) / safe], 1)
    centre[area == 0] = R / 2.0
    theta = ray_angles(num_rays, dev, dt)
    t = torch.arange(1, int(math.ceil(R * math.sqrt(2) / step)) + 1, device=dev, dtype=dt) * step
    px = centre[:, 0, None, None] + t[None, None, :] * torch.cos(theta)[None, :, None]
    py = centre[:, 1, None, None] + t[None, None, :] * torch.sin(theta)[None, :, None]
    col, row = px.floor().long(), py.floor().long()
    inside = (col >= 0) & (col < R) & (row >= 0) & (row < R)
    flat = (torch.arange(N, device=dev)[:, None, None] * R + row.clamp(0, R - 1)) * R \
        + col.clamp(0, R - 1)
    hit = inside & (m.reshape(-1)[flat] > 0)                       # [N, n, S]
    length = torch.where(hit, t[None, None, :].expand_as(px), torch.zeros_like(px)).amax(-1)
    return centre, length.clamp_min(1e-6)


def rasterize_polar(centre: Tensor, rays: Tensor, resolution: int,
                    sharpness: float = 4.0) -> Tensor:
    """``[N, R, R]`` logits of the contours ``centre [N, 2]``, ``rays [N, n]`` (grid
    pixels); differentiable in both."""
    N, n = rays.shape
    R = int(resolution)
    if N == 0:
        return rays.new_zeros(0, R, R)
    xs, ys = _pixel_centres(R, rays.device, rays.dtype)
    dx = xs[None] - centre[:, 0, None, None]
    dy = ys[None] - centre[:, 1, None, None]
    r = torch.sqrt(dx * dx + dy * dy + 1e-12)
    phi = torch.atan2(dy, dx) % (2 * math.pi)                     # [N, R, R] in [0, 2 pi)
    pos = phi * (n / (2 * math.pi))
    k0 = pos.floor().long() % n
    frac = pos - pos.floor()
    k1 = (k0 + 1) % n
    d0 = rays.gather(1, k0.view(N, -1)).view(N, R, R)
    d1 = rays.gather(1, k1.view(N, -1)).view(N, R, R)
    return sharpness * (d0 + frac * (d1 - d0) - r)
