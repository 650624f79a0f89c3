"""The noise map and the guard compute what they define, by a slow reference written out here."""

from __future__ import annotations

import numpy as np
import torch

from zoo.ops.noisemap import GUARD_BOX, LOCAL_MEAN, shrink_residual, sigma_map


def box_mean(image: np.ndarray, before: int, after: int) -> np.ndarray:
    """The mean over each pixel's window, the edges replicated: the definition, one window at a time."""
    padded = np.pad(image, ((0, 0), (before, after), (before, after)), mode="edge")
    side = before + after + 1
    height, width = image.shape[1:]
    out = np.empty_like(image, dtype=np.float64)
    for y in range(height):
        for x in range(width):
            out[:, y, x] = padded[:, y:y + side, x:x + side].mean(axis=(1, 2))
    return out


def test_the_map_is_np_interp_of_the_box_mean_per_channel():
    rng = np.random.default_rng(0)
    image = rng.random((3, 23, 19)).astype(np.float32) * 1.3 - 0.15  # beyond the end knots too
    knots = np.array([0.0, 0.1, 0.35, 0.4, 1.0])
    sigma = rng.random((2, 3, knots.size)) * 0.05  # two images' levels: the batch is told each
    batch = torch.from_numpy(np.stack([image, image[:, ::-1].copy()]))
    got = sigma_map(batch, torch.tensor(knots, dtype=torch.float32), torch.tensor(sigma, dtype=torch.float32)).numpy()
    for n in range(2):
        means = box_mean(batch[n].numpy(), LOCAL_MEAN // 2, LOCAL_MEAN // 2)
        want = np.stack([np.interp(means[c], knots, sigma[n, c]) for c in range(3)])
        np.testing.assert_allclose(got[n], want, atol=1e-6)


def test_the_guard_shrinks_by_the_wiener_gain_of_each_window():
    rng = np.random.default_rng(1)
    x = rng.random((1, 2, 40, 37)).astype(np.float32)
    out = (x + rng.normal(0, 0.05, x.shape) * (np.arange(37) > 18)).astype(np.float32)  # removes more on the right
    noise_map = np.full_like(x, 0.02)
    got = shrink_residual(torch.from_numpy(x), torch.from_numpy(out), torch.from_numpy(noise_map)).numpy()
    residual = (x - out)[0]
    before, after = GUARD_BOX // 2, GUARD_BOX - 1 - GUARD_BOX // 2
    gain = np.minimum(box_mean(noise_map[0] ** 2, before, after) / np.maximum(box_mean(residual ** 2, before, after), 1e-12), 1)
    np.testing.assert_allclose(got[0], x[0] - gain * residual, atol=1e-6)
    assert (gain[:, :, :5] == 1).all() and gain[:, :, -5:].max() < 0.5  # the test means something: both regimes
