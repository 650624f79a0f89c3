"""Issue 17, weights files are input from strangers: the configuration in the metadata is checked
against the factory and built on the meta device within zoo.limits; integer and non-finite tensors
are refused naming the tensor; the metadata's JSON is bounded."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

import zoo
from zoo import limits
from zoo.checkpoint import read_card
from zoo.errors import CheckpointError

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SMALL = {"widths": (8, 8, 8), "depth": 1}


@pytest.fixture(scope="module")
def tensors() -> dict[str, torch.Tensor]:
    model = zoo.create_model("mwresnet", **SMALL)
    return {key: value.contiguous() for key, value in model.state_dict().items()}


def write(path: Path, tensors: dict[str, torch.Tensor], config_json: str, model: str = "mwresnet",
          card_json: str | None = None) -> Path:
    metadata = {"zoo.model": model, "zoo.config": config_json}
    if card_json is not None:
        metadata["zoo.card"] = card_json
    save_file(tensors, str(path), metadata=metadata)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        zoo.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


# --- the configuration ------------------------------------------------------------------------------

ISSUE_CASES = {
    "depth 10**7 (hung)": ('{"depth": 10000000}', "above the size limit: more than 1,000,000,000 parameters"),
    "depth 10**400 (exhausted memory)": ('{"depth": 1' + "0" * 400 + "}", "option 'depth' is out of range"),
    "widths [100000]*3": ('{"widths": [100000, 100000, 100000]}', "above the size limit"),
    "in_channels 1e9": ('{"in_channels": 1e9}', "option 'in_channels' must be a whole number, got 1000000000.0"),
    "100,000 brackets": ("[" * 100_000 + "]" * 100_000, "nests 100000 levels deep, above the limit of 64"),
    "a list": ("[1, 2, 3]", "its model configuration must be a JSON object, got list"),
    "a string": ('"mwresnet"', "its model configuration must be a JSON object, got str"),
    "NaN": ('{"depth": NaN}', "is not valid JSON"),
}


@pytest.mark.parametrize("case", list(ISSUE_CASES))
def test_the_issues_hostile_configs_are_one_line(tmp_path, tensors, case):
    text, expected = ISSUE_CASES[case]
    path = write(tmp_path / "w.safetensors", tensors, text)
    start = time.perf_counter()
    assert expected in refusal(path)
    assert time.perf_counter() - start < 60


hostile_values = st.sampled_from([
    -1, 0, 2**31, 10**400, 1e9, 1.5, float("inf"), "3", True, None, [], [8, 8], [8, 8, 8], [100000] * 3,
    [[8], [8], [8]], ["8", 8, 8], {"a": 1}, [0.5, 8, 8], 10**7,
])


@FAST
@given(config=st.dictionaries(st.sampled_from(["in_channels", "widths", "depth"]), hostile_values, max_size=3))
def test_any_config_loads_or_is_refused_in_one_line(tmp_path, tensors, config):
    text = json.dumps(config, allow_nan=True)
    path = write(tmp_path / "w.safetensors", tensors, text)
    # Fewer modules than the default allows, to keep the test quick: the build stops at the first
    # module over the limit, whatever the configuration asks for.
    with limits.override(max_modules=400):
        try:
            model = zoo.load(path)
        except CheckpointError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
        else:  # only a configuration that builds the stored weights' model loads
            assert model.zoo_config["widths"] in ([8, 8, 8], (8, 8, 8)) and model.zoo_config["depth"] == 1


def test_the_size_limits_are_overridable(tmp_path, tensors, monkeypatch):
    path = write(tmp_path / "w.safetensors", tensors, json.dumps({"in_channels": 1, **SMALL}))
    assert zoo.load(path).zoo_config["depth"] == 1
    with limits.override(max_parameters=1000):
        assert "more than 1,000 parameters (set ZOO_MAX_PARAMETERS" in refusal(path)
    with limits.override(max_model_bytes=1000):
        assert "GiB of weights (set ZOO_MAX_MODEL_BYTES" in refusal(path)
    monkeypatch.setenv("ZOO_MAX_MODULES", "10")
    assert "more than 10 modules" in refusal(path)
    monkeypatch.setenv("ZOO_MAX_MODULES", "0")  # no limit
    assert zoo.load(path).zoo_config["depth"] == 1


def test_a_factory_that_fails_on_the_config_is_one_line(tmp_path, tensors):
    path = write(tmp_path / "w.safetensors", tensors, '{"widths": [8, 8, 8, 8]}')
    assert "does not build model 'mwresnet'" in refusal(path)
    groups = [{"block": "rcab", "depth": 1, "options": {"reduction": 0}}] * 5
    path = write(tmp_path / "n.safetensors", tensors, json.dumps({"widths": [8, 8, 8], "groups": groups}), "mwnet")
    assert "does not build model 'mwnet': " in refusal(path)  # a ZeroDivisionError deep in a block


def test_oversized_json_metadata_is_refused(tmp_path, tensors):
    big = json.dumps({"widths": [8, 8, 8], "note": "x" * (2 << 20)})
    assert "bytes of JSON, above the limit" in refusal(write(tmp_path / "w.safetensors", tensors, big))
    path = write(tmp_path / "c.safetensors", tensors, json.dumps(SMALL), card_json="{" * 1000 + "}" * 1000)
    with pytest.raises(CheckpointError, match="'zoo.card' metadata nests 1000 levels deep"):
        read_card(path)


# --- the tensors ------------------------------------------------------------------------------------

@FAST
@given(dtype=st.sampled_from([torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool]),
       index=st.integers(0, 10_000))
def test_integer_tensors_are_refused_naming_them(tmp_path, tensors, dtype, index):
    floats = sorted(key for key, value in tensors.items() if value.is_floating_point())
    key = floats[index % len(floats)]
    path = write(tmp_path / "w.safetensors", {**tensors, key: tensors[key].to(dtype)}, json.dumps(SMALL))
    message = refusal(path)
    assert f"of another kind than the model's ({key} {dtype} vs model torch.float32)" in message


@FAST
@given(value=st.sampled_from([float("nan"), float("inf"), float("-inf")]), index=st.integers(0, 10_000),
       dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
def test_non_finite_tensors_are_refused_naming_them(tmp_path, tensors, value, index, dtype):
    floats = sorted(key for key, value in tensors.items() if value.is_floating_point())
    key = floats[index % len(floats)]
    broken = tensors[key].clone().to(dtype)
    broken.view(-1)[index % broken.numel()] = value
    path = write(tmp_path / "w.safetensors", {**tensors, key: broken}, json.dumps(SMALL))
    assert f"1 tensor(s) hold NaN or infinite values ({key})" in refusal(path)


def test_other_float_dtypes_still_load(tmp_path, tensors):
    halves = {key: value.half() if value.is_floating_point() else value for key, value in tensors.items()}
    model = zoo.load(write(tmp_path / "w.safetensors", halves, json.dumps(SMALL)))
    assert next(model.parameters()).dtype == torch.float32


def test_a_published_layout_file_is_checked_too(tmp_path, tensors):
    state = {f"module.{key}": value for key, value in tensors.items()}
    key = next(iter(tensors))
    state[f"module.{key}"] = torch.full_like(tensors[key], float("nan"))
    torch.save({"state_dict": state}, tmp_path / "published.pth")
    with pytest.raises(CheckpointError, match=f"hold NaN or infinite values \\({key}\\)"):
        zoo.create_model("mwresnet", weights=tmp_path / "published.pth", **SMALL)


# --- model config files (zoo search export's *.json), as untrusted as a weights file's metadata ---

@pytest.mark.parametrize("case", ["depth 10**7 (hung)", "widths [100000]*3", "in_channels 1e9", "a list", "100,000 brackets"])
def test_model_config_files_are_checked_as_weights_files_are(tmp_path, case):
    text, expected = ISSUE_CASES[case]
    if not case.startswith("100,000"):
        text = f'{{"format": "zoo-model-config/1", "model": "mwresnet", "config": {text}}}'
    path = tmp_path / "arch.json"
    path.write_text(text)
    with pytest.raises(zoo.ZooError) as caught:
        zoo.create_model(str(path))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert expected in message or (case == "a list" and "needs \"model\"" in message)


# --- issue 28: names, exotic types, special files; deterministic saves ------------------------------

@pytest.mark.parametrize("key", [1, ("down1", 0), 2.5, b"bytes"])
def test_a_state_dict_named_by_other_than_strings_is_one_line(tmp_path, tensors, key, capsys):
    from zoo.cli import main

    path = tmp_path / "odd.pth"
    torch.save({**tensors, key: torch.zeros(3)}, path)
    assert "tensors must be named by strings, found 1 that are not" in refusal(path)
    for argv in (["info", "mwresnet", "--weights", str(path)],
                 ["train", "mwresnet", "--weights", str(path), "--out", str(tmp_path / "run"), "--steps", "1"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and "named by strings" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("dtype", [getattr(torch, name) for name in ("float8_e4m3fn", "float8_e5m2") if hasattr(torch, name)])
@pytest.mark.parametrize("layout", ["safetensors", "pth"])
def test_float8_tensors_are_one_line(tmp_path, tensors, dtype, layout):
    key = sorted(k for k, v in tensors.items() if v.is_floating_point())[0]
    odd = {**tensors, key: tensors[key].to(dtype)}
    if layout == "pth":
        path = tmp_path / "w.pth"
        torch.save(odd, path)
    else:
        path = write(tmp_path / "w.safetensors", odd, json.dumps(SMALL))
    message = refusal(path)
    assert f"1 tensor(s) of a type zoo does not load ({key} {str(dtype).removeprefix('torch.')})" in message


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo", "folder"])
def test_a_weights_file_that_is_a_device_fifo_or_folder_is_one_line(tmp_path, special):
    import os

    path = {"fifo": tmp_path / "w.safetensors", "folder": tmp_path}.get(special, special)
    if special == "fifo":
        os.mkfifo(path)
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as caught:
        zoo.create_model("mwresnet", weights=path, **SMALL)
    assert "not a regular file" in str(caught.value) and "\n" not in str(caught.value)
    assert time.perf_counter() - start < 30


def test_saved_weights_are_the_same_bytes_in_every_process(tmp_path):
    """safetensors wrote its metadata in hash-map order, another in each process: the same weights
    had another sha256 every time (distill's recorded fingerprints differed after a resume)."""
    import hashlib
    import subprocess
    import sys

    script = ("import sys, torch, zoo; torch.manual_seed(0); "
              "m = zoo.create_model('mwresnet', widths=(8, 8, 8), depth=1); "
              "zoo.save(m, sys.argv[1], card={'summary': 'x', 'data': ['a', 'b'], 'steps': 3})")
    digests = set()
    for index in range(4):
        path = tmp_path / f"w{index}.safetensors"
        subprocess.run([sys.executable, "-c", script, str(path)], check=True)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
        assert zoo.load(path).zoo_config["depth"] == 1
    assert len(digests) == 1
