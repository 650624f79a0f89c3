"""A convolution fused with the activation or the residual addition that follows it.

On a CPU, oneDNN can apply an activation or an addition to a convolution's output while that
output is still in cache (a "post-op"), which saves a full pass over the feature map per fused
op. In inference these passes are most of what is not convolution in the wavelet networks.

The fused path is taken only in CPU inference (no gradient recorded, no graph capture: ONNX
export and ``torch.compile`` see the plain ops and do their own fusions), on float32 or bfloat16
where oneDNN supports it, for plain ``nn.Conv2d`` modules and activations oneDNN knows, with no
hooks that a plain call would run. Everywhere else these functions are the plain calls. The
fused result rounds once where the plain one rounds twice: equal in float32 up to about 1e-7,
within one bfloat16 step in bfloat16.
"""

from __future__ import annotations

import torch
from torch import nn

from torch.nn.modules import module as _module

from zoo.ops.activations import SharedPReLU

# oneDNN's post-op for each activation it can fuse. Exact types: a subclass may compute otherwise.
_UNARY = {nn.ReLU: "relu", nn.SiLU: "swish", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}


def _has_hooks(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)


def _global_hooks() -> bool:  # e.g. FlopCounterMode's module tracking
    return bool(_module._global_forward_hooks or _module._global_forward_pre_hooks
                or _module._global_backward_hooks or _module._global_backward_pre_hooks)


def _is_fusable_activation(module: nn.Module) -> bool:
    if _has_hooks(module):
        return False
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


def _inference_on_cpu(x: torch.Tensor) -> bool:
    return not (torch.is_grad_enabled() or x.device.type != "cpu" or torch.jit.is_tracing()
                or torch.compiler.is_compiling() or not torch.backends.mkldnn.is_available()
                or not torch.backends.mkldnn.enabled or _global_hooks())


def _fusable(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    # A subclass may compute otherwise, and hooks (weight norm, pruning, counters) must run.
    if type(conv) is not nn.Conv2d or _has_hooks(conv) or not _inference_on_cpu(x):
        return False
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        return False
    weight_dtype = conv.weight.dtype
    if weight_dtype == torch.bfloat16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    if weight_dtype not in (torch.float32, torch.bfloat16) or x.dtype not in (torch.float32, torch.bfloat16):
        return False
    if torch.is_autocast_enabled("cpu"):  # autocast would cast to its dtype: only fuse where that is the weights'
        return weight_dtype == torch.get_autocast_dtype("cpu")
    return x.dtype == weight_dtype


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


def sequential(container: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``container(x)``, with each convolution fused with an activation right after it."""
    if type(container) is not nn.Sequential or _has_hooks(container) or not _inference_on_cpu(x):
        return container(x)
    pending: nn.Conv2d | None = None
    for module in container:
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
