"""Issue 24: a DNG zoo writes from a described mosaic is developed by dcraw (where installed) with
the colours of zoo's own development (benchmarks/dng_colour.py measures all three editors)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from zoo.cli import main

pytest.importorskip("rawpy")
if not shutil.which("dcraw"):
    pytest.skip("dcraw is not installed", allow_module_level=True)

_spec = importlib.util.spec_from_file_location("dng_colour", Path(__file__).parents[2] / "benchmarks" / "dng_colour.py")
dng_colour = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dng_colour)


def test_dcraw_develops_zoo_s_dng_with_zoo_s_colours(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    mosaic, dng, jpeg = tmp_path / "scene.png", tmp_path / "scene.dng", tmp_path / "zoo.jpg"
    dng_colour.mosaic_png(dng_colour.scene(192, 288), mosaic)
    assert main(["denoise", "mwrcanet-demo", str(mosaic), "--mosaic", "RGGB", "--black-level", "64",
                 "--white-level", "4095", "-o", str(dng)]) == 0
    assert main(["denoise", "mwrcanet-demo", str(dng), "-o", str(jpeg)]) == 0
    subprocess.run(["dcraw", "-w", "-T", str(dng)], check=True, capture_output=True)
    ours, theirs = dng_colour.crop_to(dng_colour.read_rgb(jpeg), dng_colour.read_rgb(dng.with_suffix(".tiff")))
    fitted = dng_colour.delta_e(dng_colour.linear_fit(theirs, ours), ours)
    assert fitted < 2.5, f"dcraw's colours differ from zoo's by a mean CIEDE2000 of {fitted:.2f} after a linear fit"
    grey = dng_colour.delta_e(dng_colour.linear_fit(theirs.mean(-1, keepdims=True).repeat(3, -1), ours), ours)
    assert grey > 2 * fitted  # the measure sees a desaturated rendering (the DNG without a matrix)
