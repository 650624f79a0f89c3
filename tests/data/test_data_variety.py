"""Training data with variety (natural split, procedural images, simulated captures, weighted
mixtures) and the held-out cross-domain sets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.data import capture, crossdomain, natural, procedural, sets
from zoo.data.synthetic import MIXED, Captures, capture_kinds
from zoo.errors import ZooError
from zoo.evaluation import evaluate, load_data
from zoo.train.data import Mixture, make_batch, open_sources, split_weight

# --- the natural split -------------------------------------------------------------------------


def test_every_image_has_one_split_and_the_split_is_as_documented():
    train, validation, test = (set(natural.split(name)) for name in natural.SPLITS)
    assert not (train & validation or train & test or validation & test)
    assert train | validation | test == set(natural.CATALOGUE)
    # The held-out images of the raw test set and of the cross-domain test set never train.
    assert set(sets.TEST_IMAGES) <= test and set(sets.VALIDATION_IMAGES) <= validation
    assert set(sets.TRAIN_IMAGES) <= train
    for source in (s for kinds in crossdomain.CONTENT["test"].values() for s in kinds):
        assert source.startswith("procedural:") or source in test, source
    for source in (s for kinds in crossdomain.CONTENT["validation"].values() for s in kinds):
        assert source.startswith("procedural:") or source in validation, source
    # Lossless test files: the same pixels on every machine.
    assert all(Path(natural.image_path(name)).suffix in (".png", ".npz") for name in test)


def test_every_shipped_scikit_image_file_is_in_the_catalogue_or_said_unused():
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    shipped = {f"skimage:{p.name}" for p in folder.iterdir()
               if p.suffix in (".png", ".jpg", ".gif", ".tif") or p.name == "lfw_subset.npy"}
    assert shipped == {name for name in (*natural.CATALOGUE, *natural.TOO_SMALL) if name.startswith("skimage:")}


@pytest.mark.parametrize("name", list(natural.CATALOGUE))
def test_every_catalogued_image_loads_as_rgb(name):
    image = natural.load_srgb(name)
    assert image.ndim == 3 and image.shape[-1] == 3 and image.dtype == np.float64
    assert image.min() >= 0.0 and image.max() <= 1.0 and min(image.shape[:2]) >= 96


def test_an_unknown_split_or_image_is_one_line():
    with pytest.raises(ZooError, match="unknown split"):
        natural.split("dev")
    with pytest.raises(ZooError, match="unknown built-in image"):
        natural.load_srgb("flickr:cat.jpg")


# --- procedural images -------------------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(sorted(procedural.GENERATORS)), seed=st.integers(0, 2**32 - 1),
       size=st.sampled_from([32, 64, 96]))
def test_procedural_images_are_seeded_rgb_in_range(kind, seed, size):
    generate = procedural.GENERATORS[kind]
    image = generate(np.random.default_rng(seed), size)
    assert image.shape == (size, size, 3) and image.dtype == np.float64
    assert image.min() >= 0.0 and image.max() <= 1.0
    np.testing.assert_array_equal(image, generate(np.random.default_rng(seed), size))


@pytest.mark.parametrize("kind", sorted(procedural.GENERATORS))
def test_procedural_images_vary_with_the_seed(kind):
    images = [procedural.GENERATORS[kind](np.random.default_rng(seed), 64) for seed in range(4)]
    assert all(not np.array_equal(images[0], other) for other in images[1:])


def test_dead_leaves_radii_follow_the_power_law():
    low, high, alpha = 3.0, 300.0, procedural.DEAD_LEAVES_ALPHA
    radii = procedural._power_law_radii(np.random.default_rng(0), 200_000, low, high, alpha)
    assert radii.min() >= low and radii.max() <= high

    def cdf(r: float) -> float:  # of p(r) ~ r^-alpha on [low, high]
        return (low ** (1 - alpha) - r ** (1 - alpha)) / (low ** (1 - alpha) - high ** (1 - alpha))

    for r in (4.0, 6.0, 12.0, 50.0):
        assert abs((radii <= r).mean() - cdf(r)) < 0.005


def test_dead_leaves_have_sharp_edges_and_flat_regions():
    image = procedural.dead_leaves(np.random.default_rng(3), 128)
    steps = np.abs(np.diff(image, axis=1)).max(-1)
    assert (steps < 1e-6).mean() > 0.3  # flat inside leaves
    assert (steps > 0.1).mean() > 0.01  # occlusion edges


def test_graphics_are_mostly_flat_with_strong_edges():
    flat = [(np.abs(np.diff(procedural.graphics(np.random.default_rng(s), 96), axis=0)).max(-1) < 1e-6).mean()
            for s in range(6)]
    assert np.median(flat) > 0.5


# --- simulated captures ------------------------------------------------------------------------


def test_the_level_grid_spans_the_sidd_calibrated_range():
    from zoo.data.noise import SIDD_LOG10_SHOT_MAX, SIDD_LOG10_SHOT_MIN

    levels = capture.level_grid(5)
    assert len(levels) == 5
    assert math.isclose(math.log10(levels[0][0]), SIDD_LOG10_SHOT_MIN)
    assert math.isclose(math.log10(levels[-1][0]), SIDD_LOG10_SHOT_MAX)
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(levels, levels[1:]))


def test_training_levels_span_at_least_the_sampler_range():
    from zoo.data.noise import SIDD_LOG10_SHOT_MAX, SIDD_LOG10_SHOT_MIN

    rng = np.random.default_rng(0)
    shots = np.log10([capture.sample_levels(rng)[0] for _ in range(4000)])
    assert shots.min() < SIDD_LOG10_SHOT_MIN and shots.max() > SIDD_LOG10_SHOT_MAX


def test_exposure_extremes():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.0, 0.6, (64, 64))
    bright = capture.expose(raw, "highlights", rng, clipped=0.3)
    assert abs((bright >= 1.0).mean() - 0.3) < 0.01 and bright.max() == 1.0
    dark = capture.expose(raw, "shadows", rng)
    assert dark.max() <= raw.max() / 4
    np.testing.assert_array_equal(capture.expose(raw, "normal", rng), raw)
    with pytest.raises(ValueError, match="unknown exposure"):
        capture.expose(raw, "hdr", rng)


def test_srgb_captures_are_8_bit_and_often_jpeg():
    srgb = procedural.gradient(np.random.default_rng(0), 64)
    camera = capture.random_unprocess_params(np.random.default_rng(0))
    png, clean = capture.srgb_capture(srgb, camera, "normal", (1e-3, 1e-5), None, np.random.default_rng(2))
    np.testing.assert_allclose(png * 255, np.round(png * 255), atol=1e-9)
    jpg, clean_too = capture.srgb_capture(srgb, camera, "normal", (1e-3, 1e-5), 50, np.random.default_rng(2))
    np.testing.assert_array_equal(clean, clean_too)
    assert np.abs(jpg - png).mean() > 1e-3  # JPEG at quality 50 changed the noisy image


@pytest.mark.parametrize("domain, channels", [("raw", 1), ("srgb", 3)])
@pytest.mark.parametrize("content", ["natural", *sorted(procedural.GENERATORS)])
def test_captures_give_float32_pairs_of_the_domain(content, domain, channels):
    noisy, clean = Captures(content, domain).sample(np.random.default_rng(5), 48)
    assert noisy.shape == clean.shape == (channels, 48, 48)
    assert noisy.dtype == clean.dtype == np.float32
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0 and not np.array_equal(noisy, clean)


# --- data specs with weights -------------------------------------------------------------------


def test_weights_parse_and_bad_weights_are_one_line():
    assert split_weight("natural-raw@3") == ("natural-raw", 3.0)
    assert split_weight("natural-raw") == ("natural-raw", 1.0)
    assert split_weight("pairs:/data/a@b") == ("pairs:/data/a@b", 1.0)  # an @ inside a folder name
    for bad in ("natural-raw@0", "natural-raw@-1", "natural-raw@inf", "natural-raw@nan"):
        with pytest.raises(ZooError, match="must be a positive number"):
            split_weight(bad)


def test_a_weighted_mixture_draws_each_source_by_its_weight():
    source = open_sources(["natural-raw@3", "gradients-raw"])
    assert isinstance(source, Mixture)
    np.testing.assert_allclose(source.weights, [0.75, 0.25])
    mixed = open_sources(["mixed-srgb"])
    assert mixed.channels == 3
    np.testing.assert_allclose(mixed.weights, np.array(list(MIXED.values())) / sum(MIXED.values()))
    assert [s.content for s in mixed.sources] == list(MIXED)


def test_every_capture_kind_opens_and_channels_must_agree():
    for kind in capture_kinds():
        assert open_sources([kind]).channels == (1 if kind.endswith("-raw") else 3)
    with pytest.raises(ZooError, match="different channel counts"):
        open_sources(["mixed-raw", "natural-srgb"])
    with pytest.raises(ZooError, match="unknown training data"):
        open_sources(["mixed-rgb"])


def test_mixed_batches_are_a_pure_function_of_seed_step_and_rank():
    source = open_sources(["mixed-srgb", "graphics-srgb@0.5"])
    first = make_batch(source, seed=7, step=11, rank=0, batch=4, patch=32)
    again = make_batch(open_sources(["mixed-srgb", "graphics-srgb@0.5"]), seed=7, step=11, rank=0, batch=4, patch=32)
    other = make_batch(source, seed=7, step=12, rank=0, batch=4, patch=32)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])


# --- the cross-domain sets ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["test", "validation"])
def test_the_cross_domain_sets_are_the_pinned_bytes(which):
    assert crossdomain.checksum(crossdomain.build_arrays(which)) == crossdomain.CHECKSUMS[which]


def test_cross_domain_blocks_are_tagged_by_kind_and_level():
    raw, srgb = load_data("crossdomain-raw"), load_data("crossdomain-srgb")
    assert len(raw) == len(srgb) == len(crossdomain.KINDS) * 4 * crossdomain.LEVELS
    for kind in crossdomain.KINDS:
        for level in range(1, crossdomain.LEVELS + 1):
            assert sum(p.tags == {"kind": kind, "level": f"L{level}"} for p in raw) == 4
    assert raw[0].raw and raw[0].noisy.shape == (128, 128) and raw[0].noise is not None
    assert not srgb[0].raw and srgb[0].noisy.shape == (3, 128, 128)
    # The same clean block at every level; the noise grows with the level.
    same = [p for p in raw if p.name.startswith("natural/astronaut-0/")]
    assert all(np.array_equal(same[0].clean, p.clean) for p in same)
    errors = [float(np.abs(p.noisy - p.clean).mean()) for p in same]
    assert errors == sorted(errors)
    lowlight = [p for p in raw if p.tags["kind"] == "lowlight"]
    highlights = [p for p in raw if p.tags["kind"] == "highlights"]
    assert max(p.clean.mean() for p in lowlight) < min(p.clean.mean() for p in highlights)
    assert min((p.clean >= 1.0).mean() for p in highlights) > 0.1


def test_evaluation_breaks_the_scores_down_by_tag(tmp_path):
    pairs = load_data("crossval-raw")
    report = evaluate(lambda pair: pair.noisy, pairs, model="identity", data="crossval-raw", progress=False)
    rows = {(row["tag"], row["value"]): row for row in report.breakdown()}
    assert {value for tag, value in rows if tag == "kind"} == set(crossdomain.KINDS)
    assert {value for tag, value in rows if tag == "level"} == {f"L{i}" for i in range(1, 4)}
    for row in rows.values():  # the identity scores exactly the noisy input
        assert math.isclose(row["psnr"], row["noisy_psnr"]) and row["worst_gain"] == 0.0
    report.write_csv(tmp_path / "scores.csv")
    header = (tmp_path / "scores.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["kind", "level"]


def test_zoo_eval_scores_several_models_side_by_side_with_the_breakdown(tmp_path, capsys):
    from zoo.cli import main

    table = tmp_path / "scores.csv"
    assert main(["eval", "wavelet", "nlmeans", "--data", "crossval-raw", "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "wavelet worst" in out and "nlmeans worst" in out
    lines = [line for line in out.splitlines() if line.startswith(("kind ", "level "))]
    assert [line.split()[1] for line in lines] == [*crossdomain.KINDS, "L1", "L2", "L3"]
    rows = table.read_text().splitlines()
    blocks = len(crossdomain.KINDS) * 2 * crossdomain.VALIDATION_LEVELS
    assert rows[0].startswith("model,name,") and len(rows) == 1 + 2 * blocks
    assert main(["eval", "wavelet", "nlmeans", "--data", "crossval-raw", "--limit", "2", "--json"]) == 0
    import json

    reports = json.loads(capsys.readouterr().out)["reports"]
    assert [r["summary"]["model"] for r in reports] == ["wavelet", "nlmeans"]
    assert {"tag", "value", "psnr", "noisy_psnr", "worst_gain"} <= set(reports[0]["breakdown"][0])


def test_zoo_eval_refuses_weights_for_several_networks(capsys):
    from zoo.cli import main

    assert main(["eval", "mwrcanet", "mwresnet", "--weights", "x.safetensors", "--data", "crossval-raw"]) == 2
    assert "exactly one network" in capsys.readouterr().err


def test_the_extreme_presets_always_draw_their_exposure():
    bright = make_batch(open_sources(["highlights-raw"]), seed=0, step=0, rank=0, batch=6, patch=48)[1]
    dark = make_batch(open_sources(["shadows-raw"]), seed=0, step=0, rank=0, batch=6, patch=48)[1]
    assert ((bright >= 1.0).float().mean(dim=(1, 2, 3)) > 0.1).all()
    assert (dark.amax(dim=(1, 2, 3)) <= 0.25 + 1e-6).all()  # at least 2 stops under white
