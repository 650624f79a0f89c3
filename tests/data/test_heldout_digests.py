"""The built-in held-out sets are the pinned bytes, step by step, on any CPU code path; a rebuild
that drifts names the step and the library that moved."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from zoo.data import crossdomain, digests, heldout


@pytest.mark.parametrize("name", list(heldout.PINNED_SETS))
def test_every_pinned_set_rebuilds_to_its_bytes_and_its_reference_digests(name):
    same, trace = heldout.rebuild(name)
    pinned = digests.read_pinned(name)
    assert pinned is not None and pinned["checksum"] == heldout.PINNED_SETS[name].expected
    assert digests.first_drift(pinned, trace) is None, digests.explain(name, trace)
    assert same


def _second_code_path() -> dict[str, str]:
    """An environment whose numpy, OpenCV and PyTorch kernels take their baseline code paths:
    no AVX-512 (or AVX2 on a machine without it) where this one has it."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    found = [feature for feature in __cpu_dispatch__ if __cpu_features__.get(feature)]
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default",
               OPENCV_CPU_DISABLE="AVX512F,AVX512-SKX,AVX512-CLX,AVX512-CNL,AVX512-ICL,AVX2,FMA3,AVX,FP16,AVX_VNNI")
    if found:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(found)
    return env


def test_a_second_cpu_code_path_builds_the_same_bytes():
    probe = ("from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__; "
             "import cv2, sys; from zoo.data import heldout; "
             "print('numpy:', [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]); "
             "print('opencv:', cv2.getCPUFeaturesLine()); sys.exit(heldout.main([]))")
    done = subprocess.run([sys.executable, "-c", probe], env=_second_code_path(), capture_output=True, text=True,
                          timeout=300)
    # Neither numpy nor OpenCV dispatches to AVX2 or AVX-512 there ('?': present but disabled).
    assert "numpy: []" in done.stdout and "*AVX2 " not in done.stdout + " ", done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("the pinned bytes") == len(heldout.PINNED_SETS)


def test_a_drifted_step_is_named_with_the_library_that_moved(monkeypatch):
    drawn = crossdomain._PROCEDURAL["graphics"]

    def redrawn(rng, size):  # as a new OpenCV that draws text one pixel differently
        image = drawn(rng, size)
        image[0, 0] = 1.0 - image[0, 0]
        return image

    monkeypatch.setitem(crossdomain._PROCEDURAL, "graphics", redrawn)
    pinned = digests.read_pinned("crossdomain-test")
    same, trace = heldout.rebuild("crossdomain-test")
    assert not same
    assert digests.first_drift(pinned, trace) == ("graphics/graphics-3", "content")
    # With the reference versions, the drift can only be the platform's; with a new OpenCV, that.
    monkeypatch.setattr(digests, "library_versions", lambda: dict(pinned["libraries"]))
    assert "depends on the CPU or platform" in digests.explain("crossdomain-test", trace)
    moved = dict(pinned["libraries"], **{"opencv-python-headless": "9.9.0"})
    monkeypatch.setattr(digests, "library_versions", lambda: moved)
    message = digests.explain("crossdomain-test", trace)
    assert message.startswith("step 'content' of graphics/graphics-3 differs first")
    assert "opencv-python-headless 9.9.0 (reference " in message
    crossdomain.arrays_of.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="step 'content' of graphics/graphics-3.*opencv-python-headless 9.9.0"):
            crossdomain.load_crossdomain("crossdomain-raw")
    finally:
        crossdomain.arrays_of.cache_clear()  # the drifted build stays out of the other tests


def test_a_float_step_is_digested_at_the_sets_precision_not_bit_for_bit():
    values = (np.arange(65536) + 0.25) / 65535  # a quarter step from every rounding boundary
    assert digests.digest(values) == digests.digest(np.nextafter(values, 2.0))
    assert digests.digest(values) != digests.digest(values + 1.0 / 65535)
    assert digests.digest(values.astype(np.uint16)) != digests.digest(values.astype(np.uint8))


def test_the_reference_digests_record_the_pinned_library_versions():
    constraints = {}
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "constraints.txt"), encoding="utf-8") as handle:
        for line in handle:
            name, sep, version = line.split("#")[0].strip().partition("==")
            if sep:
                constraints[name] = version
    for name in heldout.PINNED_SETS:
        recorded = json.loads(digests.pinned_file(name).read_text())["libraries"]
        assert recorded == {library: constraints[library] for library in digests.LIBRARIES}
