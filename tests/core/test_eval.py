"""Built-in sets, classic baselines and `zoo eval`: scores computed independently here."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import scipy.io
import torch

import zoo
from zoo.cli import main
from zoo.data import natural, sets
from zoo.baselines import denoise_classic
from zoo.evaluation import oracle_sigma

SMALL = {"widths": (8, 16, 16), "depth": 1}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    return zoo.save(zoo.create_model("mwrcanet", **SMALL), tmp_path / "small.safetensors")


def reference_psnr(estimate: np.ndarray, clean: np.ndarray) -> float:
    return 10 * math.log10(1.0 / np.mean((estimate.astype(np.float64) - clean.astype(np.float64)) ** 2))


def test_train_and_test_images_are_disjoint_real_files():
    assert not set(sets.TEST_IMAGES) & set(sets.TRAIN_IMAGES)
    for name in sets.TEST_IMAGES + sets.TRAIN_IMAGES:
        assert natural.image_path(name).is_file(), name
    assert all(name.endswith(".png") for name in sets.TEST_IMAGES)  # lossless: same pixels everywhere


def test_synthetic_sets_shapes_ranges_and_noise():
    raw, srgb = sets.load_set("synthraw"), sets.load_set("synthsrgb")
    assert len(raw) == len(srgb) == 14 and [p.name for p in raw] == [p.name for p in srgb]
    assert len({p.name for p in raw}) == len(raw)
    for pair in raw:
        assert pair.noisy.shape == pair.clean.shape == (256, 256) and pair.noisy.dtype == np.float32
        assert 0 <= pair.noisy.min() and pair.noisy.max() <= 1 and pair.noise is not None
        assert 25 < reference_psnr(pair.noisy, pair.clean) < 60  # noisy, and not absurdly so
    assert srgb[0].noisy.shape == (3, 256, 256)


def test_the_test_set_is_byte_identical_everywhere_and_cached(tmp_path):
    built = sets.build_test_arrays()
    assert sets.checksum(built) == PINNED_CHECKSUM
    cached_file = tmp_path / "cache" / "sets" / f"synth-test-v{sets.VERSION}.npz"
    assert not cached_file.exists()
    first = sets.synth_test_arrays()
    assert cached_file.is_file() and sets.checksum(first) == PINNED_CHECKSUM
    cached_file.write_bytes(b"damaged")  # a broken cache is rebuilt, not trusted
    assert sets.checksum(sets.synth_test_arrays()) == PINNED_CHECKSUM


PINNED_CHECKSUM = "2e0c9c12c5a285768244e80055e821a509bb65aeab218b8117502142358a2c25"


def test_the_module_pins_the_same_checksum_and_distrusts_a_stale_cache(tmp_path):
    assert sets.TEST_SET_SHA256 == PINNED_CHECKSUM
    stale = {k: v.copy() for k, v in sets.build_test_arrays().items()}
    stale["raw_noisy"][0, 0, 0] ^= 1
    cached_file = tmp_path / "cache" / "sets" / f"synth-test-v{sets.VERSION}.npz"
    cached_file.parent.mkdir(parents=True)
    np.savez(cached_file, **stale)
    assert sets.checksum(sets.synth_test_arrays()) == PINNED_CHECKSUM


def test_sliced_lazy_pairs_read_nothing_until_asked():
    from zoo.data.pairs import LazyPairs, Pair

    reads = []
    pairs = LazyPairs(["a", "b", "c"], lambda i: reads.append(i) or Pair("abc"[i], np.zeros(2), np.zeros(2)))
    head = pairs[:2]
    assert reads == [] and len(head) == 2 and head[1].name == "b" and reads == [1]


def test_grey_images_are_not_taken_for_mosaics():
    rng = np.random.default_rng(0)
    clean = np.tile(np.linspace(0, 1, 33), (31, 1)).astype(np.float32)  # odd sides: no mosaic would do
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    out = denoise_classic("wavelet", noisy, 0.05, raw=False)
    assert out.shape == clean.shape and reference_psnr(out, clean) > reference_psnr(noisy, clean)
    with pytest.raises(zoo.ZooError, match="even sides"):
        denoise_classic("wavelet", noisy, 0.05, raw=True)


@pytest.mark.parametrize("name", ["bm3d", "wavelet", "nlmeans"])
def test_baselines_remove_noise_from_raw_and_srgb(name):
    for set_name in ("synthraw", "synthsrgb"):
        pair = sets.load_set(set_name)[0]
        out = denoise_classic(name, pair.noisy, oracle_sigma(pair), raw=pair.raw)
        assert out.shape == pair.clean.shape and out.dtype == np.float32
        assert reference_psnr(out, pair.clean) > reference_psnr(pair.noisy, pair.clean) + 1.0, set_name


def test_eval_cli_on_synthraw_scores_as_computed_here(tmp_path, weights, capsys):
    table = tmp_path / "scores.csv"
    assert main(["eval", "mwrcanet", "--weights", str(weights), "--data", "synthraw", "--limit", "3",
                 "--json", "--csv", str(table)]) == 0
    report = json.loads(capsys.readouterr().out)
    pairs = sets.load_set("synthraw")[:3]
    model = zoo.load(weights)
    expected = [reference_psnr(zoo.denoise(model, p.noisy), p.clean) for p in pairs]
    assert [round(i["psnr"], 6) for i in report["images"]] == [round(v, 6) for v in expected]
    assert report["summary"]["psnr"] == pytest.approx(np.mean(expected))
    assert report["summary"]["noisy_psnr"] == pytest.approx(np.mean([reference_psnr(p.noisy, p.clean) for p in pairs]))
    assert report["summary"]["images"] == 3 and report["summary"]["seconds_per_megapixel"] > 0
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == [p.name for p in pairs] and float(rows[0]["ssim"]) == pytest.approx(report["images"][0]["ssim"])


def test_eval_json_is_strict_json_when_a_psnr_is_infinite(tmp_path, weights, capsys):
    image = np.random.default_rng(0).random((3, 24, 24)).astype(np.float32)
    for kind in ("noisy", "gt"):  # a sanity-check folder: the noisy image is the ground truth
        (tmp_path / "srgb" / kind).mkdir(parents=True)
        np.save(tmp_path / "srgb" / kind / "a.npy", image)
    srgb = zoo.save(zoo.create_model("mwrcanet", in_channels=3, **SMALL), tmp_path / "srgb.safetensors")
    assert main(["eval", "mwrcanet", "--weights", str(srgb), "--data", f"sidd-srgb:{tmp_path / 'srgb'}", "--json"]) == 0

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    report = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert report["images"][0]["noisy_psnr"] is None and report["images"][0]["psnr"] > 0


def test_eval_on_sidd_validation_files_reproduces_the_protocol(tmp_path, weights, capsys):
    rng = np.random.default_rng(0)
    clean = rng.random((2, 3, 32, 32), dtype=np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    scipy.io.savemat(tmp_path / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": noisy})
    scipy.io.savemat(tmp_path / "ValidationGtBlocksRaw.mat", {"ValidationGtBlocksRaw": clean})
    assert main(["eval", "mwrcanet", "--weights", str(weights), "--data", f"sidd-val:{tmp_path}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    model = zoo.load(weights)
    blocks = [(noisy[i, j], clean[i, j]) for i in range(2) for j in range(3)]
    expected = np.mean([reference_psnr(zoo.denoise(model, n), c) for n, c in blocks])  # per block, then the mean
    assert report["summary"]["images"] == 6 and report["summary"]["psnr"] == pytest.approx(expected)
    assert report["summary"]["noisy_psnr"] == pytest.approx(np.mean([reference_psnr(n, c) for n, c in blocks]))


def test_eval_on_siddplus_v5_and_sidd_medium_v73_files(tmp_path, weights, capsys):
    from tests.data.test_sidd import scene, write_v5

    rng = np.random.default_rng(1)
    model = zoo.load(weights)
    clean = rng.random((4, 24, 24), dtype=np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.03, clean.shape), 0, 1).astype(np.float32)
    plus = tmp_path / "plus"
    plus.mkdir()
    write_v5(plus / "siddplus_valid_noisy_raw.mat", "siddplus_valid_noisy_raw", noisy)
    write_v5(plus / "siddplus_valid_gt_raw.mat", "siddplus_valid_gt_raw", clean)
    assert main(["eval", "mwrcanet", "--weights", str(weights), "--data", f"siddplus-val:{plus}", "--json"]) == 0
    expected = np.mean([reference_psnr(zoo.denoise(model, n), c) for n, c in zip(noisy, clean)])
    assert json.loads(capsys.readouterr().out)["summary"]["psnr"] == pytest.approx(expected)

    big_clean = rng.random((40, 56))  # a full-size image, in float64 as MATLAB saves it
    big_noisy = np.clip(big_clean + rng.normal(0, 0.03, big_clean.shape), 0, 1)
    scene(tmp_path / "medium", "0001_001_S6_00100_00060_3200_L", "0001", big_noisy, big_clean)
    assert main(["eval", "mwrcanet", "--weights", str(weights), "--data", f"sidd-medium:{tmp_path / 'medium'}",
                 "--tile", "32", "--overlap", "8", "--json"]) == 0
    denoised = zoo.denoise(model, big_noisy.astype(np.float32), tile=32, overlap=8)
    got = json.loads(capsys.readouterr().out)["summary"]["psnr"]
    assert got == pytest.approx(reference_psnr(denoised, big_clean.astype(np.float32)))


def test_a_baseline_through_the_same_command(capsys):
    assert main(["eval", "wavelet", "--data", "synthraw", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "wavelet" in out and "synthraw" in out


@pytest.mark.parametrize("args, message", [
    (["eval", "mwrcanet", "--data", "nosuch"], "unknown data 'nosuch'"),
    (["eval", "mwrcanet", "--data", "sidd-val"], "sidd-val needs a folder"),
    (["eval", "bm3d", "--data", "synthraw", "--ensemble"], "bm3d is a classic baseline"),
    (["eval", "mwrcanet", "--data", "sidd-val:/nonexistent/folder"], "ValidationNoisyBlocksRaw.mat"),
    (["eval", "mwrcanet", "--data", "sidd-val:~/no-such-sidd"], "no-such-sidd"),
    (["eval", "mwrcanet", "--data", "synthraw", "--csv", "/"], "give a file in an existing folder"),
    (["eval", "mwrcanet", "--data", "synthraw", "--tile", "8"], "must exceed overlap"),
])
def test_eval_mistakes_are_one_line(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
