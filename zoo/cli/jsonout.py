"""``--json`` output: standard JSON that strict parsers (jq, JavaScript) accept."""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no infinity: e.g. the PSNR of two identical images
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def to_json(data: Any) -> str:
    """``data`` as indented JSON; a non-finite float becomes ``null``."""
    return json.dumps(_finite(data), indent=2, allow_nan=False)
