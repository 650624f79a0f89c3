"""Model-owned padding: networks that need sizes of a multiple pad themselves and crop back."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the last two dims at the bottom/right up to a multiple of ``multiple``.

    Reflection keeps image statistics at the border; an input too small to reflect that far
    (a pad of at least its own size) is padded by replication instead.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
