"""Weights files: zoo's safetensors round trip, the published layout, strictness, safety."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import zoo
from zoo import checkpoint
from zoo.ops import HAAR_FILTERS

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
SMALL = {"widths": (16, 24, 32), "depth": 2}


def _reference_keys(name: str) -> list[tuple[str, list[int]]]:
    path = REFERENCE / f"{name}_raw_keys.json"
    if not path.is_file():
        pytest.skip(f"{path} is not beside this checkout")
    return json.loads(path.read_text())["keys"]


def _outputs_equal(a, b, shape=(1, 1, 24, 40)) -> bool:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_save_then_load_rebuilds_a_non_default_model_from_the_file_alone(tmp_path):
    model = zoo.create_model("mwrcanet", in_channels=1, **SMALL)
    path = zoo.save(model, tmp_path / "small.safetensors")
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
    assert metadata["zoo.model"] == "mwrcanet"
    assert json.loads(metadata["zoo.config"]) == {"in_channels": 1, "widths": [16, 24, 32], "depth": 2, "noise_map": False}
    assert {"head.weight", "tail.weight"}.isdisjoint(safe_open(str(path), "pt").keys())  # constants: not saved

    loaded = zoo.load(path)
    assert loaded.zoo_config["widths"] == [16, 24, 32]
    assert _outputs_equal(model, loaded)
    # create_model with weights takes the configuration from the file too.
    assert _outputs_equal(model, zoo.create_model("mwrcanet", weights=path))


def test_explicit_keywords_override_the_file_and_a_mismatch_names_the_keys(tmp_path):
    path = zoo.save(zoo.create_model("mwresnet", **SMALL), tmp_path / "m.safetensors")
    assert zoo.create_model("mwresnet", weights=path, in_channels=1).zoo_config["depth"] == 2
    with pytest.raises(zoo.CheckpointError, match=r"does not fit model 'mwresnet': .*missing \(down1\.2\.body\.2\.conv1\.weight"):
        zoo.create_model("mwresnet", weights=path, depth=3)
    with pytest.raises(zoo.CheckpointError, match=r"mis-shaped \(down1\.0\.weight \(16, 4, 3, 3\) vs model \(8, 4, 3, 3\)"):
        zoo.create_model("mwresnet", weights=path, widths=(8, 24, 32))
    with pytest.raises(zoo.CheckpointError, match="holds model 'mwresnet', not 'mwrcanet'"):
        zoo.create_model("mwrcanet", weights=path)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "weights.safetensors"
    model = zoo.create_model("mwresnet", **SMALL)
    zoo.save(model, path)
    before = path.read_bytes()

    def crash(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        zoo.save(zoo.create_model("mwresnet", widths=(8, 8, 8), depth=1), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.safetensors"]


def test_saved_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        zoo.save(zoo.create_model("mwresnet", **SMALL), tmp_path / "w.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600


def test_save_needs_a_zoo_model(tmp_path):
    with pytest.raises(zoo.CheckpointError, match="create_model"):
        zoo.save(torch.nn.Conv2d(1, 1, 3), tmp_path / "x.safetensors")


def _published_state_dict(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in _reference_keys(name):
        is_haar = shape == [4, 1, 2, 2]
        state[f"module.{key}"] = HAAR_FILTERS.clone() if is_haar else torch.randn(shape, generator=generator) * 0.01
    return state


@pytest.mark.parametrize("name", ["mwrcanet", "mwresnet"])
def test_published_layout_loads_strictly_into_the_full_size_model(name, tmp_path):
    state = _published_state_dict(name)
    path = tmp_path / f"{name}.pth"
    torch.save({"state_dict": state}, path)
    model = zoo.create_model(name, weights=path)
    loaded = model.state_dict()
    assert len(loaded) == len(state) - 6  # the six stored Haar filters are checked, then dropped
    assert all(torch.equal(loaded[key[len("module."):]], value) for key, value in state.items() if key[7:] in loaded)
    x = torch.rand(1, 1, 40, 56)
    with torch.no_grad():
        assert torch.isfinite(model.eval()(x)).all()


def test_published_layout_mismatch_is_one_error_naming_every_problem(tmp_path):
    state = _published_state_dict("mwresnet")
    del state["module.down1.0.bias"]
    state["module.extra.weight"] = torch.zeros(3)
    state["module.up3.1.bias"] = torch.zeros(5)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(zoo.CheckpointError) as info:
        zoo.create_model("mwresnet", weights=path)
    message = str(info.value)
    assert "\n" not in message
    assert "1 missing (down1.0.bias)" in message
    assert "1 unexpected (extra.weight)" in message
    assert "1 mis-shaped (up3.1.bias (5,) vs model (4,))" in message


def test_stored_filters_must_be_haar(tmp_path):
    state = _published_state_dict("mwresnet")
    state["module.tail.weight"] = -state["module.tail.weight"]
    path = tmp_path / "flipped.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(zoo.CheckpointError, match=r"stored wavelet filters that are not Haar \(tail.weight\)"):
        zoo.create_model("mwresnet", weights=path)


class _Payload:
    """Unpickling this would create a folder: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("zip_format", [True, False])
def test_crafted_pickle_is_refused_and_never_runs(tmp_path, zip_format):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": _Payload(str(marker))}}, path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(zoo.CheckpointError, match=r"never runs pickled code \(.*GLOBAL posix.mkdir"):
        zoo.create_model("mwresnet", **SMALL, weights=path)
    assert not marker.exists()
    # The file is a live payload: loaded without the guard, it runs (so the test can fail).
    torch.load(path, weights_only=False)
    assert marker.is_dir()


@pytest.mark.parametrize("content, message", [(b"", "not a safetensors or PyTorch file"),
                                              (b"\x00" * 64, "not a safetensors or PyTorch file"),
                                              (b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":", "cannot read safetensors")])
def test_damaged_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "damaged.bin"
    path.write_bytes(content)
    with pytest.raises(zoo.CheckpointError, match=message):
        zoo.create_model("mwresnet", weights=path)


def test_missing_file(tmp_path):
    with pytest.raises(zoo.CheckpointError, match="not found"):
        zoo.load(tmp_path / "nope.safetensors")


def test_load_without_zoo_metadata_points_to_create_model(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save(zoo.create_model("mwresnet", **SMALL).state_dict(), path)
    with pytest.raises(zoo.CheckpointError, match="no zoo metadata"):
        zoo.load(path)
    assert zoo.create_model("mwresnet", weights=path, **SMALL) is not None
