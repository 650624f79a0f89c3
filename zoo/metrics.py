"""Image quality metrics with an explicit data range (never guessed from the data).

Inputs are numpy arrays or torch tensors (any real dtype; computed in float64), laid out as
``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)``, channels first.

- :func:`psnr`: over all elements (the MSE pooled over everything given).
- :func:`ssim`: of one image: ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``; the mean over channels.
  Equal to scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=...)`` (with ``channel_axis`` for colour).
- :func:`psnr_per_image` / :func:`ssim_per_image`: one score per image of an ``(N, C, H, W)`` batch.
- :func:`mean_over_blocks`: the challenge's score, each block scored alone and the scores averaged
  (not the PSNR of the pooled MSE, which weighs noisy blocks more); :func:`mean_by_image` groups them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

# SSIM constants (Wang et al. 2004, and scikit-image's defaults for gaussian_weights=True).
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)  # 5: an 11x11 window, as scipy's gaussian_filter
SSIM_WINDOW = 2 * SSIM_RADIUS + 1
_STRIP_ROWS = 256  # SSIM is computed in strips of rows: memory stays bounded on full-size images


def psnr(estimate: ArrayLike, reference: ArrayLike, *, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB over the whole array; ``inf`` for identical inputs.

    For an ``(N, C, H, W)`` batch this pools the MSE over all images: use
    :func:`psnr_per_image` for per-image scores. Torch tensors are compared on their device.
    """
    peak = _check_range(data_range)
    est, ref = _pair(estimate, reference, "psnr")
    if est.numel() == 0:
        raise ValueError("psnr: the inputs are empty")
    mse = torch.mean((est.double() - ref.double()) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def ssim(estimate: ArrayLike, reference: ArrayLike, *, data_range: float) -> float:
    """Structural similarity of one image, the mean over its channels (Gaussian window, sigma 1.5).

    ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``, each side at least 11 pixels. The local SSIM map
    is averaged away from a 5-pixel border (where the 11x11 window would leave the image), as
    scikit-image does; computed in float64 with numpy.
    """
    peak = _check_range(data_range)
    est, ref = _pair(estimate, reference, "ssim")
    if est.ndim == 4 and est.shape[0] == 1:
        est, ref = est[0], ref[0]
    if est.ndim not in (2, 3):
        detail = f"a batch of {est.shape[0]}: use ssim_per_image" if est.ndim == 4 else f"shape {tuple(est.shape)}"
        raise ValueError(f"ssim: expected one image (H, W), (C, H, W) or (1, C, H, W), got {detail}")
    return _ssim_planes(_planes(est), _planes(ref), peak)


def psnr_per_image(estimate: ArrayLike, reference: ArrayLike, *, data_range: float) -> list[float]:
    """PSNR of each image of an ``(N, C, H, W)`` batch."""
    est, ref = _batch(estimate, reference, "psnr_per_image")
    return [psnr(e, r, data_range=data_range) for e, r in zip(est, ref)]


def ssim_per_image(estimate: ArrayLike, reference: ArrayLike, *, data_range: float) -> list[float]:
    """SSIM of each image of an ``(N, C, H, W)`` batch (each the mean over its channels)."""
    est, ref = _batch(estimate, reference, "ssim_per_image")
    return [ssim(e, r, data_range=data_range) for e, r in zip(est, ref)]


def mean_over_blocks(values: Iterable[float]) -> float:
    """The mean of per-block scores, as the challenge reported (``inf`` if a block scored ``inf``)."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("mean_over_blocks: expected a non-empty sequence of numbers")
    return float(array.mean())


def mean_by_image(values: Sequence[float], images: Sequence[Hashable]) -> dict[Hashable, float]:
    """Per-image means of per-block scores: ``images[i]`` is the image block ``i`` came from.

    Keys in order of first appearance.
    """
    if len(values) != len(images):
        raise ValueError(f"mean_by_image: {len(values)} scores but {len(images)} image labels")
    groups: dict[Hashable, list[float]] = {}
    for value, image in zip(values, images):
        groups.setdefault(image, []).append(float(value))
    return {image: mean_over_blocks(scores) for image, scores in groups.items()}


def _check_range(data_range: float) -> float:
    # A bool is an int to Python, and True would silently mean a peak of 1.
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real):
        raise TypeError(f"data_range must be a number (the peak value, e.g. 1.0 or 255), got {data_range!r}")
    peak = float(data_range)
    if not (math.isfinite(peak) and peak > 0):
        raise ValueError(f"data_range must be positive and finite, got {data_range!r}")
    return peak


def _as_tensor(value: ArrayLike, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        array = np.asarray(value)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise TypeError(f"{name}: expected a numeric array, got dtype {array.dtype}")
        # float64 at once: every dtype numpy has (uint32, big-endian, bool) becomes one torch reads.
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
    if tensor.is_complex():
        raise TypeError(f"{name}: expected real values, got {tensor.dtype}")
    return tensor


def _pair(estimate: ArrayLike, reference: ArrayLike, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    est, ref = _as_tensor(estimate, f"{metric} estimate"), _as_tensor(reference, f"{metric} reference")
    if est.shape != ref.shape:
        raise ValueError(f"shapes differ: {tuple(est.shape)} vs {tuple(ref.shape)}")
    if ref.device != est.device:  # numpy against a GPU tensor: compare where the tensor is
        ref = ref.to(est.device)
    return est, ref


def _batch(estimate: ArrayLike, reference: ArrayLike, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    est, ref = _pair(estimate, reference, metric)
    if est.ndim != 4:
        raise ValueError(f"{metric}: expected a batch (N, C, H, W), got shape {tuple(est.shape)}")
    return est, ref


def _planes(image: torch.Tensor) -> np.ndarray:
    """``(H, W)`` or ``(C, H, W)`` as a ``(C, H, W)`` float64 numpy array."""
    planes = image if image.ndim == 3 else image.unsqueeze(0)
    return planes.to(device="cpu", dtype=torch.float64).numpy()


def _gaussian_window() -> np.ndarray:
    offsets = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    return weights / weights.sum()


def _valid_filter(stack: np.ndarray, window: np.ndarray, axis: int) -> np.ndarray:
    """Correlate along ``axis`` where the window fits wholly inside (no padding).

    Shifted multiply-adds: for an 11-tap window, several times faster than float64 convolution
    in torch on the CPU, and free of its thread-count sensitivity.
    """
    size = stack.shape[axis] - len(window) + 1
    def shifted(i: int) -> np.ndarray:
        return stack[(slice(None),) * axis + (slice(i, i + size),)]
    out = window[0] * shifted(0)
    for i in range(1, len(window)):
        out += window[i] * shifted(i)
    return out


def _ssim_planes(x: np.ndarray, y: np.ndarray, peak: float) -> float:
    """Mean over planes of each plane's mean local SSIM, over the window positions inside it.

    scikit-image filters the whole image (reflecting at the edges) and then drops a border of
    ``SSIM_RADIUS`` pixels before averaging: what is left never sees the padding, so a 'valid'
    filter gives the same numbers without padding at all.
    """
    height, width = x.shape[-2:]
    if height < SSIM_WINDOW or width < SSIM_WINDOW:
        raise ValueError(f"ssim: images must be at least {SSIM_WINDOW}x{SSIM_WINDOW} (the Gaussian window), "
                         f"got {height}x{width}")
    window = _gaussian_window()
    c1, c2 = (SSIM_K1 * peak) ** 2, (SSIM_K2 * peak) ** 2
    out_rows = height - 2 * SSIM_RADIUS
    means = []
    for xp, yp in zip(x, y):
        total = 0.0
        for top in range(0, out_rows, _STRIP_ROWS):
            rows = slice(top, min(top + _STRIP_ROWS, out_rows) + 2 * SSIM_RADIUS)
            xs, ys = xp[rows], yp[rows]
            moments = np.stack((xs, ys, xs * xs, ys * ys, xs * ys))
            mx, my, mxx, myy, mxy = _valid_filter(_valid_filter(moments, window, 1), window, 2)
            # Population (not sample) covariances: use_sample_covariance=False.
            vx, vy, vxy = mxx - mx * mx, myy - my * my, mxy - mx * my
            local = (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
            total += float(local.sum())
        means.append(total / (out_rows * (width - 2 * SSIM_RADIUS)))
    return float(np.mean(means))
