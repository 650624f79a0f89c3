"""The model contract: what zoo reads from a model, and what a model that declares nothing gets.

A model is an ``nn.Module`` that maps an image batch ``(N, C, H, W)`` to one of the same shape.
It may declare three things, as plain attributes (on the class or the instance):

- ``size_multiple``: the input sizes it runs on without padding of its own (the wavelet networks
  declare 8, for their three Haar levels). Tiles start on this grid, tile and overlap are kept to
  multiples of it, and training patches must be multiples of it. Default: 1, any size.
- ``in_channels``: the channel count it takes. Its factory's ``in_channels`` keyword, when it
  has one, says the same and wins. Default: the input channels of its first ``nn.Conv2d``.
- ``noise_channels``: a noise-aware model takes its ``in_channels`` image channels followed by
  this many channels of a noise-level map (:mod:`zoo.ops.noisemap`) and returns the image's
  ``in_channels``; zoo's inference builds the map (:mod:`zoo.infer.conditioning`). Default: 0,
  a blind model.

zoo enforces the contract where a model runs (:func:`guarded_forward`, :func:`check_output`):
an output of another shape than its input implies, a ``sys.exit`` in ``forward`` and running
out of memory are each one line naming the model, never a traceback from whatever came next;
a registered block's shape is checked on one probe pass before training (:func:`probe_blocks`).

zoo records four attributes on the models it builds; they are zoo's to write (see
:func:`record_build` and :func:`record_weights`), and every reader goes through this module:

- ``zoo_name`` and ``zoo_config``: the registered name and the full configuration (the
  factory's keywords, defaults filled in), what :func:`zoo.save` stores beside the weights;
- ``zoo_architecture``: for a named configuration of another model (a pretrained name), the
  model and configuration it is built as;
- ``zoo_weights``: the file its weights were loaded from.

A model zoo did not build (a plain ``nn.Module``) is named by its class and has an empty
configuration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError, first_line, from_the_user

NAME, CONFIG, ARCHITECTURE, WEIGHTS = "zoo_name", "zoo_config", "zoo_architecture", "zoo_weights"
BLOCK = "zoo_block"  # on a block zoo built (:func:`record_block`): its registered name

# How a RuntimeError says that memory ran out: CUDA's caching allocator, the CPU allocator, MPS.
_OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "not enough memory")


def model_name(model: object) -> str:
    """The registered name, or the class name of a model zoo did not build."""
    return registered_name(model) or type(model).__name__


def registered_name(model: object) -> str | None:
    """The name zoo built ``model`` under; None for a model zoo did not build."""
    return getattr(model, NAME, None)


def model_config(model: nn.Module) -> dict[str, Any]:
    """The full configuration ``model`` was built with (empty for a model zoo did not build)."""
    return getattr(model, CONFIG, None) or {}


def built_as(model: nn.Module) -> dict[str, Any] | None:
    """``{"model": NAME, "config": {...}}`` when ``model``'s name is a named configuration of
    another model (e.g. a pretrained one); None otherwise."""
    return getattr(model, ARCHITECTURE, None)


def weights_source(model: nn.Module) -> str | None:
    """The file ``model``'s weights were loaded from; None for initial weights."""
    return getattr(model, WEIGHTS, None)


def size_multiple(model: nn.Module) -> int:
    """The sizes ``model`` runs on without padding of its own (1: any)."""
    multiple = getattr(model, "size_multiple", 1)
    if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
        raise ZooError(f"model '{model_name(model)}' declares size_multiple {multiple!r}: it must be a positive int")
    return multiple


def input_channels_if_known(model: nn.Module) -> int | None:
    """The channel count ``model`` takes (see the module's docstring); None when it declares none
    and has no convolution to tell it by."""
    config = model_config(model)
    if "in_channels" in config:
        return int(config["in_channels"])
    declared = getattr(model, "in_channels", None)
    if isinstance(declared, int) and not isinstance(declared, bool):  # e.g. a pretrained name with no options
        return declared
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if first_conv is None else first_conv.in_channels


def noise_channels(model: object) -> int:
    """How many noise-map channels ``model`` (or a runner of it) takes after its image: 0 when blind."""
    declared = getattr(model, "noise_channels", 0)
    if isinstance(declared, bool) or not isinstance(declared, int) or declared < 0:
        raise ZooError(f"model '{model_name(model)}' declares noise_channels {declared!r}: it must be an int >= 0")
    return declared


def input_channels(model: nn.Module) -> int:
    """The channel count ``model`` takes; a :class:`ZooError` when it cannot be told."""
    channels = input_channels_if_known(model)
    if channels is None:
        raise ZooError(f"cannot tell {model_name(model)}'s input channels: give it an in_channels attribute or option")
    return channels


def record_build(model: nn.Module, name: str, config: dict[str, Any]) -> None:
    """Record that ``model`` was built as ``name`` with the full ``config``. A model its factory
    built through another name keeps that as its architecture."""
    inner = registered_name(model)
    if inner is not None and inner != name:
        setattr(model, ARCHITECTURE, {"model": inner, "config": model_config(model)})
    setattr(model, NAME, name)
    setattr(model, CONFIG, config)


def record_weights(model: nn.Module, source: str) -> None:
    """Record the file ``model``'s weights came from (kept by a pretrained name's model too)."""
    setattr(model, WEIGHTS, source)


def record_block(block: nn.Module, name: str) -> None:
    """Record that ``block`` was built from the block registered as ``name``."""
    setattr(block, BLOCK, name)


class ContractError(ZooError):
    """A model (or block) broke the contract at run time: an output of the wrong shape, a
    ``sys.exit`` in ``forward``, or memory running out, said naming the model."""


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(phrase in str(exc).lower() for phrase in _OUT_OF_MEMORY)


@contextlib.contextmanager
def guarded_forward(name: str) -> Iterator[None]:
    """Run a forward pass of the model called ``name``: a ``sys.exit`` (or another
    ``BaseException`` of a plugin's own) must not end zoo without a word, and memory running
    out is said of the model, not of whichever built-in layer happened to allocate last."""
    try:
        yield
    except ZooError:
        raise
    except SystemExit as exc:
        raise ContractError(f"model '{name}' called sys.exit({exc.code!r}) in its forward pass") from None
    except BaseException as exc:
        if from_the_user(exc):
            raise
        if _is_out_of_memory(exc):
            raise ContractError(f"model '{name}' ran out of memory in its forward pass ({type(exc).__name__}: "
                                f"{first_line(exc)[:200]}); a smaller image or --tile needs less") from exc
        if not isinstance(exc, Exception):  # a plugin's own BaseException: contained as an error
            raise ContractError(f"model '{name}' raised {type(exc).__name__} in its forward pass: "
                                f"{first_line(exc)[:200]}") from None
        raise


def expected_output(model: object, inputs: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
    """The output shape the contract gives ``model`` for an input batch of shape ``inputs``: the
    same N, H, W; the image channels, without a noise-aware model's map channels."""
    n, c, h, w = inputs
    return (n, c - noise_channels(model), h, w)


def check_output(model: nn.Module, inputs: torch.Size | tuple[int, ...], output: object) -> torch.Tensor:
    """``output`` of ``model`` for an input of shape ``inputs``, or a :class:`ContractError`
    naming the model when it is not a tensor of the shape the contract gives it."""
    expected = expected_output(model, inputs)
    if not isinstance(output, torch.Tensor):
        raise ContractError(f"model '{model_name(model)}' returned {type(output).__name__} from forward, "
                            f"not a tensor of shape {_shape(expected)}")
    if tuple(output.shape) != expected:
        raise ContractError(f"model '{model_name(model)}' broke the model contract: for an input of shape "
                            f"{_shape(inputs)} it returned {_shape(output.shape)}, not {_shape(expected)} "
                            "(same N, H, W; its image channels)")
    return output


def probe_blocks(model: nn.Module, channels: int, side: int) -> None:
    """One pass of ``model`` over a ``(1, channels, side, side)`` zero batch (``channels``
    including a noise-aware model's map), checking every block zoo built
    (:func:`record_block`) and the model's output against the contract: a block whose
    channel count lies is named before a training step runs, not found by the next layer's
    shape error. The model is left in the mode it was in."""
    name = model_name(model)

    def check_block(block: nn.Module, inputs: tuple[Any, ...], output: object) -> None:
        before = tuple(inputs[0].shape) if inputs and isinstance(inputs[0], torch.Tensor) else None
        after = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        if before is not None and after != before:
            shown = _shape(after) if after is not None else type(output).__name__
            raise ContractError(f"block '{getattr(block, BLOCK)}' in model '{name}' broke the block contract: "
                                f"for an input of shape {_shape(before)} it returned {shown} (a block keeps "
                                "(N, channels, H, W))")

    hooks = [m.register_forward_hook(check_block) for m in model.modules() if hasattr(m, BLOCK)]
    parameter = next(model.parameters(), None)
    x = torch.zeros((1, channels, side, side), device=parameter.device if parameter is not None else "cpu",
                    dtype=parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), guarded_forward(name):
            output = model(x)
        check_output(model, x.shape, output)
    finally:
        model.train(was_training)
        for handle in hooks:
            handle.remove()


def _shape(shape: object) -> str:
    return "(" + ", ".join(str(v) for v in shape) + ")" if isinstance(shape, (tuple, torch.Size)) else str(shape)
