"""Inference: ``denoise`` with tiling and the x8 self-ensemble, over pluggable runners."""

from zoo.infer.pipeline import denoise, run
from zoo.infer.runner import DTYPES, Runner, TorchRunner
from zoo.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

__all__ = ["DEFAULT_OVERLAP", "DEFAULT_TILE", "DTYPES", "Runner", "TorchRunner", "denoise", "run"]
