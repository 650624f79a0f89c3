"""Turning a user's image into an ``(N, C, H, W)`` float32 batch, and the result back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from zoo.errors import ZooError

Image = Any  # np.ndarray | torch.Tensor

#: How far outside [0, 1] values may stray before the image is taken to be on another scale (a
#: 0-255 float image came back all ones, clipped, exit 0). Noise around black and white strays a
#: little, and is clipped on the way out; the image files' readers allow the same.
RANGE_TOLERANCE = 0.5


def to_batch(image: Image, in_channels: int | None) -> tuple[torch.Tensor, Callable[[torch.Tensor], Image]]:
    """Validate ``image`` ((H, W), (C, H, W) or (N, C, H, W), float) and return a float32 CPU
    batch plus a function that gives a batch back in the input's shape, type, dtype and device."""
    if isinstance(image, np.ndarray):
        if not np.issubdtype(image.dtype, np.floating) or image.dtype.itemsize > 8:
            raise ZooError(f"expected a float16/32/64 image with values in [0, 1], got dtype {image.dtype} "
                           "(scale integers by their maximum first)")
        tensor = torch.from_numpy(np.ascontiguousarray(image))
    elif isinstance(image, torch.Tensor):
        if not image.is_floating_point():
            raise ZooError(f"expected a float image with values in [0, 1], got dtype {image.dtype}")
        tensor = image.detach()
    else:
        raise ZooError(f"expected a numpy array or torch tensor, got {type(image).__name__}")

    shape = tuple(tensor.shape)
    if tensor.ndim not in (2, 3, 4):
        raise ZooError(f"expected an image of shape (H, W), (C, H, W) or (N, C, H, W), got shape {shape}")
    if tensor.numel() == 0:
        raise ZooError(f"the image is empty (shape {shape})")
    channels = tensor.shape[-3] if tensor.ndim >= 3 else 1
    if in_channels is not None and channels != in_channels:
        raise ZooError(f"the model takes {in_channels}-channel images, got {channels} channels (shape {shape})")
    if not torch.isfinite(tensor).all():
        raise ZooError("the image has NaN or infinite values")
    batch = tensor.reshape((1,) * (4 - tensor.ndim) + shape).to("cpu", torch.float32)
    if not torch.isfinite(batch).all():
        raise ZooError("the image has values too large for float32")
    check_range(batch)

    def restore(result: torch.Tensor) -> Image:
        result = result.reshape(shape)
        if isinstance(image, np.ndarray):
            return result.numpy().astype(image.dtype, copy=False)
        # A copy made outside inference mode: the caller gets an ordinary tensor.
        return result.to(device=image.device, dtype=image.dtype, copy=True)

    return batch, restore


def check_range(batch: torch.Tensor) -> None:
    """A one-line :class:`ZooError` naming the range found when values leave [0, 1] by more
    than :data:`RANGE_TOLERANCE`."""
    low, high = float(batch.min()), float(batch.max())
    if low >= -RANGE_TOLERANCE and high <= 1.0 + RANGE_TOLERANCE:
        return
    scale = next((top for top in (255, 1023, 4095, 16383, 65535) if 1.5 < high <= top), None)
    hint = f" (0-{scale} data? divide it by {scale})" if scale else " (clip it or scale it to [0, 1])"
    raise ZooError(f"expected an image with values in [0, 1], found values in [{low:g}, {high:g}]{hint}")
