"""Model-owned padding: networks that need sizes of a multiple pad themselves and crop back."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the last two dims at the bottom/right up to a multiple of ``multiple``.

    Reflection keeps image statistics at the border; an input too small to reflect that far
    (a pad of at least its own size) is reflected as far as it goes, then replicated. The rule
    has no branch on the size, so that an exported graph (ONNX) pads every size as eager does.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not (torch.jit.is_tracing() or torch.compiler.is_compiling()) and pad_h == 0 and pad_w == 0:
        return x  # eager fast path; a traced graph keeps the (possibly zero) pads
    reflect_h, reflect_w = torch.sym_min(pad_h, height - 1), torch.sym_min(pad_w, width - 1)
    x = F.pad(x, (0, reflect_w, 0, reflect_h), mode="reflect")
    return F.pad(x, (0, pad_w - reflect_w, 0, pad_h - reflect_h), mode="replicate")
