"""Classic denoisers to compare a network with: BM3D, wavelet (BayesShrink), non-local means.

Each takes one image, ``(H, W)`` raw mosaic or ``(C, H, W)`` sRGB in [0, 1], and the noise
standard deviation; ``zoo eval`` gives them the true per-image level (the RMS of noisy minus
clean): an oracle setting that favours them. A raw mosaic is denoised as its four packed colour
planes, so that no filter mixes neighbours of different colours.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
from skimage.restoration import denoise_nl_means, denoise_wavelet

from zoo.ops.bayer import pack_bayer, unpack_bayer
from zoo.errors import ZooError
from zoo.install import pip_hint, require

PATTERN = "RGGB"  # the packing only groups same-colour pixels: any pattern's 2x2 phase works


def _bm3d(image: np.ndarray, sigma: float) -> np.ndarray:
    bm3d = require("bm3d", "the bm3d baseline", extra="baselines")
    if image.shape[-1] == 3:
        return bm3d.bm3d_rgb(image, sigma_psd=sigma)
    return np.stack([bm3d.bm3d(image[..., c], sigma_psd=sigma) for c in range(image.shape[-1])], axis=-1)


def _wavelet(image: np.ndarray, sigma: float) -> np.ndarray:
    return denoise_wavelet(image, sigma=sigma, method="BayesShrink", mode="soft", rescale_sigma=True,
                           channel_axis=-1, convert2ycbcr=image.shape[-1] == 3)


def _nlmeans(image: np.ndarray, sigma: float) -> np.ndarray:
    # h = 0.8 sigma with the noise variance subtracted (sigma=...): scikit-image's advice.
    return denoise_nl_means(image, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6,
                            channel_axis=-1)


BASELINES: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {"bm3d": _bm3d, "wavelet": _wavelet, "nlmeans": _nlmeans}
PACKAGES = {"bm3d": "bm3d"}  # a baseline's own package, beyond zoo's dependencies (scikit-image)


def check_available(names: list[str]) -> None:
    """One line naming every baseline in ``names`` whose package is missing, and how to install
    it: ``zoo eval`` says so before any model runs, not after scoring the others for an hour."""
    missing = [name for name in names if name in PACKAGES and importlib.util.find_spec(PACKAGES[name]) is None]
    if missing:
        packages = sorted({PACKAGES[name] for name in missing})
        raise ZooError(f"the {', '.join(missing)} baseline{'s' if len(missing) > 1 else ''} need"
                       f"{'' if len(missing) > 1 else 's'} the {', '.join(packages)} package: "
                       f"{pip_hint(*packages, extra='baselines')}")


def _apply(name: str, image: np.ndarray, sigma: float) -> np.ndarray:
    """Baseline ``name`` on a channels-last image, channels kept: scikit-image drops a single
    channel axis (non-local means gave (H, W) for (H, W, 1), which then lost a dimension)."""
    result = BASELINES[name](image, sigma)
    return result[..., None] if result.ndim == image.ndim - 1 else result


def denoise_classic(name: str, image: np.ndarray, sigma: float, *, raw: bool) -> np.ndarray:
    """Denoise ``image`` with baseline ``name``: a ``(H, W)`` Bayer mosaic (``raw``), or a grey
    ``(H, W)`` or ``(C, H, W)`` image; same shape, float32."""
    if name not in BASELINES:
        raise ZooError(f"unknown baseline '{name}'; choose from {', '.join(BASELINES)}")
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2 and not raw:
        image = image[None]
        return denoise_classic(name, image, sigma, raw=False)[0]
    if image.ndim == 2:  # raw mosaic: its four colour planes, channels last
        if image.shape[0] % 2 or image.shape[1] % 2:
            raise ZooError(f"a Bayer mosaic needs even sides, got {image.shape}")
        planes = np.moveaxis(pack_bayer(image, PATTERN), 0, -1)
        result = np.moveaxis(_apply(name, planes, sigma), -1, 0)
        result = unpack_bayer(np.ascontiguousarray(result), PATTERN)
    elif image.ndim == 3:
        result = np.moveaxis(_apply(name, np.moveaxis(image, 0, -1), sigma), -1, 0)
    else:
        raise ZooError(f"expected an (H, W) mosaic or a (C, H, W) image, got shape {image.shape}")
    return np.clip(result, 0.0, 1.0).astype(np.float32)
