"""Issue 17, devices (zoo.infer.runner.parse_device): an odd device name is one line, never a traceback."""

from __future__ import annotations

import pytest

from zoo.errors import ZooError
from zoo.infer.runner import parse_device


@pytest.mark.parametrize("device", ["cpu:99", "cpu:1", "tpu", "cuda:x"])
def test_odd_devices_are_one_line(device):
    with pytest.raises(ZooError) as caught:
        parse_device(device)
    assert "\n" not in str(caught.value)
    assert parse_device("cpu:0").type == "cpu"
