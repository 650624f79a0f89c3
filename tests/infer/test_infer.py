"""zoo.denoise: shapes and types, tiling (exact and seamless), the x8 ensemble, precision, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.infer.ensemble import self_ensemble
from zoo.infer.tiling import edge_window, run_tiled, tile_spans

SMALL = {"widths": (8, 8, 8), "depth": 1}


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return zoo.create_model("mwresnet", **SMALL).eval()


@pytest.mark.parametrize("shape", [(37, 101), (1, 37, 101), (2, 1, 24, 16)])
@pytest.mark.parametrize("kind", ["numpy32", "numpy64", "torch32", "torch16"])
def test_same_shape_type_and_dtype_back_clipped(resnet, shape, kind):
    rng = np.random.default_rng(0)
    data = rng.random(shape) * 1.4 - 0.2  # values outside [0, 1] are allowed in, clipped out
    image = {
        "numpy32": data.astype(np.float32),
        "numpy64": data,
        "torch32": torch.from_numpy(data).float(),
        "torch16": torch.from_numpy(data).half(),
    }[kind]
    out = zoo.denoise(resnet, image)
    assert type(out) is type(image) and out.shape == image.shape and out.dtype == image.dtype
    values = out if isinstance(out, np.ndarray) else out.float().numpy()
    assert values.min() >= 0.0 and values.max() <= 1.0
    reference = resnet(torch.from_numpy(data).float().reshape((1,) * (4 - len(shape)) + shape)).clamp(0, 1)
    assert np.abs(np.asarray(values, dtype=np.float64) - reference.detach().reshape(shape).numpy()).max() < 2e-3


def _receptive_radius(model, size=256) -> int:
    radius = 0
    for offset in range(8):  # every phase of the three-level wavelet grid
        x = torch.rand(1, 1, size, size, requires_grad=True)
        model(x)[0, 0, size // 2 + offset, size // 2 + offset].backward()
        support = (x.grad[0, 0] != 0).nonzero() - (size // 2 + offset)
        radius = max(radius, int(support.abs().max()))
    return radius


def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field(resnet):
    radius = _receptive_radius(resnet)
    overlap = -(-4 * radius // 8) * 8  # the window's dead zone (overlap / 4) covers the radius
    image = torch.rand(1, 1, 611, 1001, generator=torch.Generator().manual_seed(1))
    untiled = zoo.denoise(resnet, image)
    tiled = zoo.denoise(resnet, image, tile=overlap + 96, overlap=overlap)
    assert len(tile_spans(616, overlap + 96, overlap, 8)) > 1  # really tiled
    assert (tiled - untiled).abs().max() < 1e-5
    # With too little overlap the tiles differ from the whole: the test can tell.
    assert (zoo.denoise(resnet, image, tile=128, overlap=16) - untiled).abs().max() > 1e-3


def test_tiles_blend_without_seams():
    """Tiles whose results disagree by a constant still blend smoothly: no step at any edge."""
    offsets = iter(torch.linspace(0, 0.5, 100).tolist())

    def disagreeing(tile: torch.Tensor) -> torch.Tensor:
        return tile + next(offsets)

    image = torch.zeros(1, 1, 200, 300)
    out = run_tiled(disagreeing, image, tile=96, overlap=32, multiple=8)
    steps = torch.cat([out.diff(dim=-1).abs().flatten(), out.diff(dim=-2).abs().flatten()])
    largest_disagreement = 0.5
    ramp = 32 - 2 * (32 // 4)
    assert steps.max() < largest_disagreement * np.pi / (2 * ramp) + 1e-6
    assert out.min() >= 0 and out.max() <= 0.5


def test_complementary_windows_sum_to_one():
    left = edge_window(64, 32, ramp_start=False, ramp_end=True)
    right = edge_window(64, 32, ramp_start=True, ramp_end=False)
    shared = left[-32:] + right[:32]
    assert torch.allclose(shared, torch.ones(32))
    assert left[-8:].abs().max() == 0 and right[:8].abs().max() == 0  # dead zones


@pytest.mark.parametrize("length, tile, overlap", [(616, 400, 304), (1024, 512, 32), (6000, 1024, 32), (4000, 512, 64), (64, 512, 32)])
def test_tile_spans_cover_with_overlap_on_the_grid(length, tile, overlap):
    spans = tile_spans(length, tile, overlap, 8)
    assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == length
    assert all(start % 8 == 0 and size % 8 == 0 and size <= max(tile, length if length <= tile else 0) for start, size in spans)
    assert all(a + size - b >= overlap for (a, size), (b, _) in zip(spans, spans[1:]))


def test_self_ensemble_matches_an_independent_computation():
    weight = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)

    def not_equivariant(x):  # a lopsided filter: the 8 results differ
        return torch.nn.functional.conv2d(x, weight, padding=1)

    x = torch.rand(1, 1, 8, 12, dtype=torch.float32)
    got = self_ensemble(not_equivariant, x)
    base = x[0, 0].numpy().astype(np.float64)
    results = []
    for flip in (False, True):
        for k in range(4):
            t = np.rot90(base[:, ::-1] if flip else base, k)
            y = not_equivariant(torch.from_numpy(t.copy()).float()[None, None])[0, 0].numpy().astype(np.float64)
            y = np.rot90(y, -k)
            results.append(y[:, ::-1] if flip else y)
    expected = np.mean(results, axis=0)
    assert np.abs(got[0, 0].numpy() - expected).max() < 1e-5
    assert np.abs(not_equivariant(x)[0, 0].numpy() - expected).max() > 1e-2


def test_ensemble_and_tiles_together(resnet):
    image = np.random.default_rng(2).random((70, 90)).astype(np.float32)
    out = zoo.denoise(resnet, image, ensemble=True, tile=48, overlap=16)
    assert out.shape == image.shape and np.isfinite(out).all()


def test_bfloat16_keeps_the_residual_path_in_float32():
    model = zoo.create_model("mwrcanet", widths=(16, 24, 32), depth=2).eval()
    torch.nn.init.zeros_(model.up3[-1].weight)
    torch.nn.init.zeros_(model.up3[-1].bias)
    image = torch.rand(1, 1, 64, 64)
    # The network's learned residual is zero: in bf16 the output must still be the float32 input.
    out = zoo.denoise(model, image, dtype=torch.bfloat16)
    assert (out - image).abs().max() < 1e-6


def test_bfloat16_is_close_to_float32():
    torch.manual_seed(0)
    model = zoo.create_model("mwrcanet", widths=(16, 24, 32), depth=2)
    image = torch.rand(1, 1, 64, 64)
    fp32 = zoo.denoise(model, image)
    bf16 = zoo.denoise(model, image, dtype="bfloat16")
    assert 0 < (fp32 - bf16).abs().max() < 0.05


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((4, 1, 1, 8, 8), np.float32), "shape \\(H, W\\), \\(C, H, W\\) or \\(N, C, H, W\\)"),
        (np.zeros((3, 8, 8), np.float32), "takes 1-channel images, got 3"),
        (np.zeros((0, 8), np.float32), "empty"),
        (np.full((8, 8), np.nan, np.float32), "NaN or infinite"),
        (np.full((8, 8), np.inf, np.float32), "NaN or infinite"),
        (np.zeros((8, 8), np.uint8), "float16/32/64 image"),
        (np.zeros((8, 8), np.longdouble), "float16/32/64 image"),
        (np.full((8, 8), 1e39), "too large for float32"),
        ([[0.5]], "numpy array or torch tensor"),
    ],
)
def test_bad_inputs_are_clear_errors(resnet, image, message):
    with pytest.raises(zoo.ZooError, match=message):
        zoo.denoise(resnet, image)


def test_bad_settings_are_clear_errors(resnet):
    with pytest.raises(zoo.ZooError, match="float16 inference needs a GPU"):
        zoo.denoise(resnet, np.zeros((8, 8), np.float32), dtype=torch.float16, device="cpu")
    for tile, overlap in [(32, 32), (32, 28), (0, 0), (64, -8)]:
        with pytest.raises(zoo.ZooError, match="must exceed overlap"):
            zoo.denoise(resnet, np.zeros((64, 64), np.float32), tile=tile, overlap=overlap)
    with pytest.raises(zoo.ZooError, match="unknown device 'gpu'"):
        zoo.denoise(resnet, np.zeros((8, 8), np.float32), device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(zoo.ZooError, match="sees no CUDA GPU"):
            zoo.denoise(resnet, np.zeros((8, 8), np.float32), device="cuda")
    with pytest.raises(zoo.ZooError, match="unknown dtype"):
        zoo.denoise(resnet, np.zeros((8, 8), np.float32), dtype="float8")


def test_users_model_is_left_alone_and_weight_changes_are_seen():
    model = zoo.create_model("mwresnet", **SMALL).train()
    image = torch.rand(1, 1, 32, 32)
    before = zoo.denoise(model, image, dtype="bfloat16")
    assert model.training
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in model.parameters())
    with torch.no_grad():  # an optimizer step, in effect: the cached prepared copy must not be reused
        model.up3[-1].bias.add_(0.25)
    after = zoo.denoise(model, image, dtype="bfloat16")
    assert (after - before).abs().mean() > 0.05
    model.load_state_dict(zoo.create_model("mwresnet", **SMALL).state_dict())
    assert not torch.equal(zoo.denoise(model, image), after)


def test_the_callers_array_is_never_modified():
    image = np.full((8, 8), 1.5, np.float32)
    out = zoo.denoise(torch.nn.Identity(), image)
    assert out.max() == 1.0 and image.max() == 1.5
