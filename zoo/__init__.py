"""zoo: a plugin-style model zoo for real-image denoising.

    >>> import zoo
    >>> zoo.list_models()  # with no other plugins installed
    ['mwdensenet', 'mwnet', 'mwrcanet', 'mwrcanet-demo', 'mwrcanet-srgb-demo', 'mwresnet', 'mwresnet-demo']
    >>> model = zoo.create_model("mwrcanet", widths=(32, 48, 64), depth=2)
"""

from __future__ import annotations

from zoo.waiting import prefer_passive_waiting

prefer_passive_waiting()  # before anything imports torch: its OpenMP runtime reads the policy once

from zoo.checkpoint import save  # noqa: E402
from zoo.errors import BrokenPluginError, CheckpointError, PluginWarning, UnknownNameError, ZooError  # noqa: E402
from zoo.factory import create_model, load  # noqa: E402
from zoo.export.precision import denoise  # noqa: E402  (zoo.infer.denoise, with precision=)
from zoo.registry import create_block, list_blocks, list_models, register_block, register_model, resolve_config  # noqa: E402
from zoo.version import __version__ as __version__  # noqa: E402  (re-exported)

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
