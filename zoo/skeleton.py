"""The mwnet skeleton's shape, stated once: where its five block groups sit, which level each
runs at, what a group spec holds, and its named configurations in plain form.

The mwnet factory (``plugins/models/mwnet.py``) builds from these, and the architecture search
(:mod:`zoo.search.space`, :mod:`zoo.search.genome`, :mod:`zoo.search.report`) reads them. They
would live in the factory's module, but the core never imports a plugin (the search sits
below the plugins in the layer table, docs/architecture.md), so they sit here, in the lowest
layer both may import; the module imports nothing of the project.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

#: The five groups in skeleton order, and the level (index into the three widths) each runs at. A
#: group's width is fixed by its level: the skeleton's skip additions join features of the same level.
GROUP_POSITIONS = ("down1", "down2", "middle", "up2", "up3")
GROUP_LEVELS = (0, 1, 2, 1, 0)
#: What one group spec holds: a block type (a registered block's name), a block count, the blocks'
#: options, and whether the group ends in a conv3x3 with a residual around the group.
GROUP_KEYS = ("block", "depth", "tail", "options")

# The named members of the family as mwnet's plain form, less widths and depth (the ones every
# factory takes): act and the one group spec used for all five groups.
_NAMED: dict[str, dict[str, Any]] = {
    "mwresnet": {"act": "relu", "groups": {"block": "residual", "tail": False, "options": {"act": "relu"}}},
    "mwrcanet": {"act": "prelu", "groups": {"block": "rcab", "tail": True}},
    "mwdensenet": {"act": "prelu", "groups": {"block": "dense", "tail": True}},
}


def named_config(name: str, widths: Sequence[int], depth: int) -> dict[str, Any]:
    """``mwresnet``, ``mwrcanet`` or ``mwdensenet`` at these widths and blocks per group, as the
    keywords of ``mwnet`` (``widths``, ``act``, ``groups``)."""
    config = copy.deepcopy(_NAMED[name])
    config["groups"] = {**config["groups"], "depth": int(depth)}
    return {"widths": list(widths), **config}
