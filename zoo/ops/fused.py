"""A convolution fused with the activation or the residual addition that follows it.

On a CPU, oneDNN can apply an activation or an addition to a convolution's output while that
output is still in cache (a "post-op"), which saves a full pass over the feature map per fused
op. In inference these passes are most of what is not convolution in the wavelet networks.

The fused path is taken only where it gives the plain path's result: no gradient recorded, CPU
tensors, an activation oneDNN knows, and no graph capture (ONNX export and ``torch.compile`` see
the plain ops and do their own fusions). Everywhere else these functions are the plain ops.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from zoo.ops.activations import SharedPReLU

# oneDNN's post-op for each activation it can fuse. Exact types: a subclass may compute otherwise.
_UNARY = {nn.ReLU: "relu", nn.SiLU: "swish", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}


def _is_fusable_activation(module: nn.Module) -> bool:
    if type(module) in (nn.PReLU, SharedPReLU):
        return module.weight.numel() == 1
    return type(module) in (*_UNARY, nn.LeakyReLU, nn.GELU)


def _post_op(act: nn.Module) -> tuple[str, list[float], str] | None:
    if not _is_fusable_activation(act):
        return None
    if type(act) in _UNARY:
        return _UNARY[type(act)], [], ""
    if isinstance(act, nn.PReLU):  # one slope: a leaky ReLU
        return "leaky_relu", [act.weight.item()], ""
    if type(act) is nn.LeakyReLU:
        return "leaky_relu", [act.negative_slope], ""
    return "gelu", [], act.approximate


def _fusable(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    if torch.is_grad_enabled() or x.device.type != "cpu" or torch.jit.is_tracing() or torch.compiler.is_compiling():
        return False
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str) or not torch.backends.mkldnn.is_available():
        return False
    weight_dtype = conv.weight.dtype
    if torch.is_autocast_enabled("cpu"):  # autocast would cast to its dtype: only fuse where that is the weights'
        return weight_dtype == torch.get_autocast_dtype("cpu")
    return weight_dtype in (torch.float32, torch.bfloat16) and x.dtype == weight_dtype


def _geometry(conv: nn.Conv2d) -> tuple[list[int], list[int], list[int], int]:
    return list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups


def conv_act(conv: nn.Conv2d, act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(conv(x))``."""
    post_op = _post_op(act) if _fusable(conv, x) else None
    if post_op is None:
        return act(conv(x))
    name, scalars, algorithm = post_op
    return torch.ops.mkldnn._convolution_pointwise(
        x.to(conv.weight.dtype), conv.weight, conv.bias, *_geometry(conv), name, scalars, algorithm)


def _keeps_size(conv: nn.Conv2d) -> bool:
    return conv.stride == (1, 1) and all(
        2 * p == d * (k - 1) for p, d, k in zip(conv.padding, conv.dilation, conv.kernel_size))


def conv_add(conv: nn.Conv2d, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """``residual + conv(x)``."""
    # The post-op adds element by element: no broadcasting, no type promotion.
    same_shape = _keeps_size(conv) and residual.shape == (x.shape[0], conv.out_channels, *x.shape[2:])
    if not (same_shape and residual.dtype == conv.weight.dtype and _fusable(conv, x)):
        return residual + conv(x)
    return torch.ops.mkldnn._convolution_pointwise.binary(
        x.to(conv.weight.dtype), residual, conv.weight, conv.bias, *_geometry(conv), "add", None, None, [], None)


def sequential(modules: Iterable[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Run ``modules`` in order, fusing each convolution with an activation right after it."""
    pending: nn.Conv2d | None = None
    for module in modules:
        if pending is not None:
            if _is_fusable_activation(module):
                x, pending = conv_act(pending, module, x), None
                continue
            x, pending = pending(x), None
        if isinstance(module, nn.Conv2d):
            pending = module
        else:
            x = module(x)
    return pending(x) if pending is not None else x


__all__ = ["conv_act", "conv_add", "sequential"]
