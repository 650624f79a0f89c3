"""Issue 28, every file zoo reads goes through one bounded, typed reader (zoo.reading): special
files (FIFOs, devices, folders) are refused before they are opened, sizes and nesting depths are
bounded, YAML aliases and keys given twice are refused; each refusal is one line naming the file."""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo import limits, reading
from zoo.errors import ZooError
from hardening import within

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


# --- the reader ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom", "folder"])
def test_special_files_are_refused_before_they_are_read(tmp_path, fifo, special):
    path = {"fifo": fifo, "folder": tmp_path}.get(special, special)
    for read in (reading.read_text, reading.read_json, reading.read_toml, reading.read_yaml):
        with pytest.raises(ZooError) as caught:
            within(10, lambda read=read: read(path, "the config"))
        message = str(caught.value)
        assert "\n" not in message and str(path) in message and "not a regular file" in message


def test_a_file_above_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"x": "y" * 2000}))
    with limits.override(max_json_bytes=1000):
        with pytest.raises(ZooError, match=r"big.json is 2,\d{3} bytes, above the limit of 1,000"):
            reading.read_json(path, "the config")
    assert reading.read_json(path, "the config", dict)["x"] == "y" * 2000


@pytest.mark.parametrize("kind, expected", [(dict, "must hold a table"), (list, "must hold a list")])
def test_the_top_level_type_is_checked(tmp_path, kind, expected):
    path = tmp_path / "x.json"
    path.write_text('"a string"' if kind is dict else "{}")
    with pytest.raises(ZooError, match=expected):
        reading.read_json(path, "the study file", kind)


def test_binary_is_not_text(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b"\x00\xff\xfe garbage")
    with pytest.raises(ZooError, match="is not UTF-8 text"):
        reading.read_toml(path, "the space")


@FAST
@given(levels=st.integers(65, 20_000), opener=st.sampled_from(["[", "{a: "]))
def test_deep_yaml_is_refused_in_one_line(levels, opener):
    closer = "]" if opener == "[" else "}"
    with pytest.raises(ZooError) as caught:
        reading.parse_yaml(opener * levels + "1" + closer * levels, "recipe.yaml")
    assert "\n" not in str(caught.value) and "deep" in str(caught.value)


@FAST
@given(levels=st.integers(65, 20_000), style=st.sampled_from(["array", "inline", "dotted"]))
def test_deep_toml_is_refused_in_one_line(levels, style):
    text = {"array": "a = " + "[" * levels + "]" * levels,
            "inline": "a = " + "{b = " * levels + "1" + "}" * levels,
            "dotted": "[" + ".".join(["a"] * levels) + "]\nx = 1"}[style]
    with pytest.raises(ZooError) as caught:
        reading.parse_toml(text, "space.toml")
    assert "\n" not in str(caught.value) and "deep" in str(caught.value)


def test_yaml_aliases_are_refused_so_a_billion_laughs_is_one_line():
    start = time.perf_counter()
    with pytest.raises(ZooError, match=r"aliases \(\*name\) are not accepted"):
        reading.parse_yaml(BILLION_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - start < 5
    with pytest.raises(ZooError, match="aliases"):  # a merge key is an alias too
        reading.parse_yaml("base: &b {steps: 1}\nrun:\n  <<: *b\n", "merge.yaml")


@FAST
@given(key=st.sampled_from(["steps", "lr", "model", "1", "true"]), nested=st.booleans())
def test_a_yaml_key_given_twice_is_refused(key, nested):
    text = f"{key}: 1\n{key}: 2\n"
    if nested:
        text = "config:\n" + "".join(f"  {line}\n" for line in text.splitlines())
    with pytest.raises(ZooError, match="is given twice"):
        reading.parse_yaml(text, "twice.yaml")


def test_plain_yaml_and_toml_still_read():
    assert reading.parse_yaml("steps: 10\nconfig: {widths: [8, 8, 8]}\nlr: 2e-4\n", "ok.yaml") == {
        "steps": 10, "config": {"widths": [8, 8, 8]}, "lr": "2e-4"}
    assert reading.parse_toml("steps = 10\n[config]\nwidths = [8, 8, 8]\n", "ok.toml") == {
        "steps": 10, "config": {"widths": [8, 8, 8]}}


def test_a_model_config_file_that_is_a_fifo_is_one_line(tmp_path):
    import zoo

    path = tmp_path / "arch.json"
    os.mkfifo(path)
    with pytest.raises(ZooError, match="not a regular file"):
        within(10, lambda: zoo.create_model(str(path)))
