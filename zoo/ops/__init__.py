"""Shared building blocks for models, blocks and data: wavelets, padding, activations, Bayer planes,
noise levels and maps."""

from zoo.ops.activations import make_activation
from zoo.ops.haar import HAAR_FILTERS, HaarDWT, HaarIWT, dwt, iwt
from zoo.ops.padding import pad_to_multiple

__all__ = ["HAAR_FILTERS", "HaarDWT", "HaarIWT", "dwt", "iwt", "make_activation", "pad_to_multiple"]
