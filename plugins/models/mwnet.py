"""The multi-level wavelet network family (NTIRE 2020 Real Image Denoising, raw track winners).

One generic skeleton, :class:`MWNet`, built from plain data: three level widths and, for each of
its five block groups, a block type (any registered block, by name), a block count, block
options, and whether the group ends in a conv3x3 with a residual around the whole group. That is
the form the architecture search produces, registered as ``mwnet``; ``mwresnet``, ``mwrcanet``
and ``mwdensenet`` are named configurations of it.

Module names follow the released checkpoints (docs/networks.md), so their files load strictly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

import zoo
from zoo.ops import HaarDWT, HaarIWT, make_activation, pad_to_multiple
from zoo.skeleton import GROUP_KEYS, GROUP_LEVELS, GROUP_POSITIONS, named_config

# Where the five groups sit, which level width each runs at, what a group spec holds and the
# named configurations: zoo.skeleton states them, for this factory and the search alike.
# The noise map's scale inside the network. Its values (standard deviations of 0.001-0.2) are far
# smaller than the image's; unscaled, the first convolution's weights for them learn hundreds of
# times slower than the image's (measured: after 800 fine-tuning steps they were 0.5% of the
# image's, and the strength a user set changed nothing).
NOISE_MAP_GAIN = 20.0


class BlockGroup(nn.Module):
    """``depth`` blocks in sequence; optionally a closing conv3x3 with a residual around it all."""

    def __init__(self, channels: int, block: str, depth: int, tail: bool, options: Mapping[str, Any]) -> None:
        super().__init__()
        self.body = nn.Sequential(*(zoo.create_block(block, channels, **options) for _ in range(depth)))
        self.tail = nn.Conv2d(channels, channels, 3, padding=1) if tail else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tail is None:
            return self.body(x)
        return x + self.tail(self.body(x))


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


class MWNet(nn.Module):
    """Three-level Haar wavelet U-Net that adds a learned residual to its input.

    Any input size: the model reflect-pads to a multiple of 8 and crops back. A noise-aware one
    (``noise_map``) takes its ``in_channels`` image channels followed by as many channels of a
    noise-level map (:mod:`zoo.ops.noisemap`): the map goes through the head's DWT with the
    image and into the first convolution, and the output is the image's ``in_channels``.
    """

    size_multiple = 8

    def __init__(self, in_channels: int, widths: Sequence[int], act: str, groups: Sequence[Mapping[str, Any]],
                 noise_map: bool = False) -> None:
        super().__init__()
        self.in_channels = in_channels  # the first conv sees 4x as many (after the head's DWT)
        self.noise_channels = in_channels if noise_map else 0
        c, (w1, w2, w3) = in_channels, widths
        g = [BlockGroup(widths[level], **spec) for spec, level in zip(groups, GROUP_LEVELS)]
        self.head = HaarDWT()
        self.down1 = nn.Sequential(_conv(4 * (c + self.noise_channels), w1), make_activation(act), g[0])
        self.down2 = nn.Sequential(HaarDWT(), _conv(4 * w1, w2), make_activation(act), g[1])
        self.down3 = nn.Sequential(HaarDWT(), _conv(4 * w2, w3), make_activation(act))
        self.middle = g[2]
        self.up1 = nn.Sequential(_conv(w3, 4 * w2), make_activation(act), HaarIWT())
        self.up2 = nn.Sequential(g[3], _conv(w2, 4 * w1), make_activation(act), HaarIWT())
        self.up3 = nn.Sequential(g[4], _conv(w1, 4 * c))
        self.tail = HaarIWT()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if self.noise_channels:  # noise levels are a few hundredths: brought to the image's scale
            x = torch.cat([x[:, :self.in_channels], x[:, self.in_channels:] * NOISE_MAP_GAIN], 1)
        c1 = self.head(pad_to_multiple(x, self.size_multiple))
        c2 = self.down1(c1)
        c3 = self.down2(c2)
        m = self.middle(self.down3(c3))
        c5 = self.up1(m) + c3
        c6 = self.up2(c5) + c2
        c7 = self.up3(c6) + c1[:, :4 * self.in_channels]  # the DWT keeps each input channel's 4 bands together
        return self.tail(c7)[..., :height, :width]


def with_noise_map(blind: MWNet) -> MWNet:
    """The noise-aware twin of a blind network, computing exactly what it computes until trained:
    the first convolution's new inputs (the map's Haar bands) start at zero weight. Fine-tuning
    it from there teaches the network to use the map (issue 23's shipped models started so)."""
    if blind.noise_channels:
        raise ValueError("the network is noise-aware already")
    aware = copy.deepcopy(blind)
    first = cast(nn.Conv2d, blind.down1[0])
    widened = nn.Conv2d(2 * first.in_channels, first.out_channels, 3, padding=1)
    with torch.no_grad():
        widened.weight.zero_()
        widened.weight[:, :first.in_channels] = first.weight
        if widened.bias is None or first.bias is None:
            raise ValueError("the first convolution has no bias to carry over")
        widened.bias.copy_(first.bias)
    aware.down1[0] = widened
    aware.noise_channels = blind.in_channels
    return aware


def _group_specs(groups: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Normalise one spec (used for all five groups) or five specs into five full specs."""
    specs = [groups] if isinstance(groups, Mapping) else list(groups)
    if len(specs) == 1:
        specs *= len(GROUP_POSITIONS)
    if len(specs) != len(GROUP_POSITIONS):
        raise ValueError(f"groups: give one spec or {len(GROUP_POSITIONS)} ({', '.join(GROUP_POSITIONS)}), got {len(specs)}")
    full = []
    for spec in specs:
        unknown = set(spec) - set(GROUP_KEYS)
        if unknown or "block" not in spec:
            raise ValueError(f"a group spec takes block (required), depth, tail, options; got {dict(spec)}")
        full.append({"block": spec["block"], "depth": int(spec.get("depth", 1)), "tail": bool(spec.get("tail", False)),
                     "options": dict(spec.get("options", {}))})
    return full


def mwnet(
    in_channels: int = 1,
    widths: Sequence[int] = (96, 128, 128),
    act: str = "prelu",
    groups: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ({"block": "rcab", "depth": 20, "tail": True},),
    noise_map: bool = False,
) -> MWNet:
    """The generic skeleton from plain data, e.g. an architecture-search result.

    ``groups`` is one spec for all five groups or five specs (down1, down2, middle, up2, up3),
    each ``{"block": NAME, "depth": INT, "tail": BOOL, "options": {...}}``. ``noise_map``: the
    network also takes a noise-level map (noise-aware).
    """
    if len(widths) != 3 or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must be 3 positive ints, got {widths}")
    return MWNet(int(in_channels), [int(w) for w in widths], act, _group_specs(groups), bool(noise_map))


def mwresnet(in_channels: int = 1, widths: Sequence[int] = (160, 256, 256), depth: int = 4,
             noise_map: bool = False) -> MWNet:
    """The "original network": plain residual blocks, ReLU, no group tail (25.5 M params raw)."""
    return mwnet(in_channels, **named_config("mwresnet", widths, depth), noise_map=noise_map)


def mwrcanet(in_channels: int = 1, widths: Sequence[int] = (96, 128, 128), depth: int = 20,
             noise_map: bool = False) -> MWNet:
    """The "siamese network": RCAB groups with a tail conv and group residual, PReLU (27.2 M raw)."""
    return mwnet(in_channels, **named_config("mwrcanet", widths, depth), noise_map=noise_map)


def mwdensenet(in_channels: int = 1, widths: Sequence[int] = (96, 128, 128), depth: int = 20,
               noise_map: bool = False) -> MWNet:
    """The dense-block variant of the search space at mwrcanet's widths."""
    return mwnet(in_channels, **named_config("mwdensenet", widths, depth), noise_map=noise_map)
