"""The noise-level map a noise-aware network is given beside its image (as FFDNet's noise map).

A noise level function (NLF) gives the noise's standard deviation per channel at a few intensity
knots; the map holds, at every pixel, the NLF of its channel at the pixel's local mean (a small
box mean of the noisy image, so the map is smooth and the noise itself does not leak into it).
For a Bayer mosaic the NLF has one row per CFA plane (row-major in the 2x2 tile) and each pixel
takes its plane's.

It is computed in torch from the image tile that the network sees, so that tiling and the
self-ensemble need nothing of it (a box mean is local and symmetric). The same function makes the
training maps, so the network is told at run time what it was told in training.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

LOCAL_MEAN = 5  # box side in pixels (per CFA plane for a mosaic: 10 mosaic pixels)


def interpolate(values: torch.Tensor, knots: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear ``sigma(values)`` per channel, constant beyond the end knots.

    ``values`` ``(N, P, H, W)``, ``knots`` ``(K,)`` increasing, ``sigma`` ``(N or 1, P, K)``.
    Written as a sum of clamped ramps, in place: four passes per knot over one buffer. (Finding
    each value's segment and gathering its ends was slower on a CPU: gathers do not vectorise.)
    """
    s = sigma.to(values.dtype)[..., None, None]  # (N, P, K, 1, 1)
    out = s[:, :, 0].expand(values.shape).clone()
    ramp = torch.empty_like(values)
    for j in range(1, knots.shape[0]):
        span = max(float(knots[j] - knots[j - 1]), 1e-12)
        torch.sub(values, float(knots[j - 1]), out=ramp)
        ramp.mul_(1.0 / span).clamp_(0.0, 1.0)
        out.addcmul_(s[:, :, j] - s[:, :, j - 1], ramp)
    return out


def _local_mean(x: torch.Tensor) -> torch.Tensor:
    # A depthwise 5x5 convolution of ones: half the time of avg_pool2d on a CPU, the same means.
    pad = LOCAL_MEAN // 2
    box = torch.full((x.shape[1], 1, LOCAL_MEAN, LOCAL_MEAN), 1.0 / LOCAL_MEAN**2, dtype=x.dtype, device=x.device)
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), box, groups=x.shape[1])


def sigma_map(x: torch.Tensor, knots: torch.Tensor, sigma: torch.Tensor, *, mosaic: bool = False) -> torch.Tensor:
    """The noise map ``(N, C, H, W)`` of an image batch ``x`` ``(N, C, H, W)``.

    ``sigma`` is ``(N or 1, C, K)``, or ``(N or 1, 4, K)`` with ``mosaic`` (then C is 1).
    """
    if not mosaic:
        return interpolate(_local_mean(x), knots, sigma)
    height, width = x.shape[-2:]
    padded = F.pad(x, (0, width % 2, 0, height % 2), mode="replicate")  # odd sizes: planes need even sides
    planes = F.pixel_unshuffle(padded, 2)  # (N, 4, H/2, W/2): R, G1, G2, B for RGGB
    return F.pixel_shuffle(interpolate(_local_mean(planes), knots, sigma), 2)[..., :height, :width]


def empirical_nlf(noisy: torch.Tensor, clean: torch.Tensor, knots: torch.Tensor, *, mosaic: bool = False,
                  min_count: int = 64) -> torch.Tensor:
    """The true NLF of one training pair ``(C, H, W)``: per channel (per CFA plane for a mosaic),
    the standard deviation of ``noisy - clean`` among the pixels whose clean value lies nearest
    each knot, placed at those pixels' mean clean value and interpolated back onto the knots
    (constant beyond the filled ones). Knots with fewer than ``min_count`` pixels are skipped; a
    pair too small for any takes one global value. Returns ``(P, K)``."""
    if mosaic:
        noisy, clean = (F.pixel_unshuffle(a[None], 2)[0] for a in (noisy, clean))
    residual, level = (noisy - clean).flatten(1).double(), clean.flatten(1).double()
    nearest = (level[..., None] - knots.double()).abs().argmin(-1)  # (P, pixels): each pixel's knot
    result = torch.zeros(residual.shape[0], knots.shape[0], dtype=torch.float64)
    for p in range(residual.shape[0]):
        counts = torch.bincount(nearest[p], minlength=knots.shape[0])
        sums = torch.bincount(nearest[p], weights=residual[p], minlength=knots.shape[0])
        squares = torch.bincount(nearest[p], weights=residual[p] ** 2, minlength=knots.shape[0])
        levels = torch.bincount(nearest[p], weights=level[p], minlength=knots.shape[0]) / counts.clamp(min=1)
        filled = counts >= min_count
        if not filled.any():
            result[p] = residual[p].std()
            continue
        variance = (squares - sums ** 2 / counts.clamp(min=1)) / (counts - 1).clamp(min=1)
        std = variance.clamp(min=0).sqrt()
        result[p] = torch.from_numpy(np.interp(knots.double().numpy(), levels[filled].numpy(), std[filled].numpy()))
    return result.float()


GUARD_BOX = 32  # window side in pixels (16 per CFA plane): 16 and 32 measured alike, 32 costs less in deep shadow


def shrink_residual(x: torch.Tensor, out: torch.Tensor, noise_map: torch.Tensor, box: int = GUARD_BOX) -> torch.Tensor:
    """``out`` with what the network removed (``x - out``) shrunk, window by window, to the energy
    of the noise ``noise_map`` says is there: a Wiener gain ``E[sigma^2] / E[r^2]`` (at most 1) on
    the removed residual ``r``.

    Where the network removed noise only, ``r`` holds about the noise's energy and the gain is
    about 1. Where it also removed texture it took for noise, the residual's energy exceeds the
    noise's, and the gain keeps most of it: if ``r`` is the noise plus an independent texture, the
    result's error is ``sigma^2 T^2 / (sigma^2 + T^2)``, below the noisy input's ``sigma^2``. It
    needs a true level: told too little noise, it leaves noise in.
    """
    residual = x - out
    before, after = box // 2, box - 1 - box // 2

    def window_mean(t: torch.Tensor) -> torch.Tensor:
        # A row box, then a column box: 2x32 additions per pixel where a 32x32 pooling took 1024,
        # and the guard cost ten times the network on each tile (the same means, to rounding).
        padded = F.pad(t, (before, after, before, after), mode="replicate")
        return F.avg_pool2d(F.avg_pool2d(padded, (1, box), stride=1), (box, 1), stride=1)

    gain = (window_mean(noise_map.square()) / window_mean(residual.square()).clamp(min=1e-12)).clamp(max=1.0)
    return x - gain * residual
