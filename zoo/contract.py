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

from typing import Any

from torch import nn

from zoo.errors import ZooError

NAME, CONFIG, ARCHITECTURE, WEIGHTS = "zoo_name", "zoo_config", "zoo_architecture", "zoo_weights"


def model_name(model: nn.Module) -> str:
    """The registered name, or the class name of a model zoo did not build."""
    return registered_name(model) or type(model).__name__


def registered_name(model: nn.Module) -> str | None:
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
