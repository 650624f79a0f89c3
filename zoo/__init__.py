"""zoo: a plugin-style model zoo for real-image denoising.

    >>> import zoo
    >>> zoo.list_models()
    ['mwdensenet', 'mwnet', 'mwrcanet', 'mwresnet']
    >>> model = zoo.create_model("mwrcanet", widths=(32, 48, 64), depth=2)
"""

from __future__ import annotations

from zoo.checkpoint import save
from zoo.errors import BrokenPluginError, CheckpointError, PluginWarning, UnknownNameError, ZooError
from zoo.factory import create_model, load
from zoo.infer import denoise
from zoo.registry import create_block, list_blocks, list_models, register_block, register_model, resolve_config
from zoo.version import __version__

__all__ = [
    "BrokenPluginError",
    "CheckpointError",
    "PluginWarning",
    "UnknownNameError",
    "ZooError",
    "create_block",
    "create_model",
    "denoise",
    "list_blocks",
    "list_models",
    "load",
    "register_block",
    "register_model",
    "resolve_config",
    "save",
]
