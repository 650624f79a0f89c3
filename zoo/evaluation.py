"""``zoo eval``: a denoiser over an evaluation set, scored as the challenge did (PSNR and SSIM per
block with peak 1.0, then the mean over blocks), with the noisy input's scores beside them."""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from zoo.baselines import denoise_classic
from zoo.data.pairs import Pair
from zoo.data.specs import EVAL_KINDS as DATA_KINDS  # noqa: F401  (re-exported: the kinds `zoo eval` takes, from the one table)
from zoo.data.specs import load_data  # noqa: F401  (re-exported: zoo.evaluation.load_data)
from zoo.errors import ZooError
from zoo.fileio import atomic_path
from zoo.infer import DEFAULT_OVERLAP, denoise
from zoo.metrics import psnr, ssim

DATA_RANGE = 1.0  # every set is normalised to [0, 1]: the challenge's peak

Denoiser = Callable[[Pair], np.ndarray]


@dataclass
class ImageScore:
    name: str
    psnr: float
    ssim: float
    noisy_psnr: float
    noisy_ssim: float
    seconds: float
    megapixels: float
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class EvalReport:
    model: str
    data: str
    images: list[ImageScore] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | str]:
        """Means over blocks (the challenge's averaging) and seconds per megapixel."""
        def mean(key: str) -> float:
            return float(np.mean([getattr(s, key) for s in self.images]))

        seconds, megapixels = sum(s.seconds for s in self.images), sum(s.megapixels for s in self.images)
        return {"model": self.model, "data": self.data, "images": len(self.images), "psnr": mean("psnr"),
                "ssim": mean("ssim"), "noisy_psnr": mean("noisy_psnr"), "noisy_ssim": mean("noisy_ssim"),
                "seconds_per_megapixel": seconds / megapixels if megapixels else math.nan}

    def breakdown(self) -> list[dict[str, float | int | str]]:
        """Means per tag value (e.g. every kind, then every noise level), in the order they first appear,
        with the noisy input's PSNR beside each and the worst single block's margin over it."""
        by_tag: dict[str, dict[str, list[ImageScore]]] = {}  # tag -> value -> scores, in first-seen order
        for score in self.images:
            for key, value in score.tags.items():
                by_tag.setdefault(key, {}).setdefault(value, []).append(score)
        groups = {(key, value): scores for key, values in by_tag.items() for value, scores in values.items()}
        return [{"tag": key, "value": value, "images": len(scores),
                 "psnr": float(np.mean([s.psnr for s in scores])), "ssim": float(np.mean([s.ssim for s in scores])),
                 "noisy_psnr": float(np.mean([s.noisy_psnr for s in scores])),
                 "worst_gain": float(min(s.psnr - s.noisy_psnr for s in scores))}
                for (key, value), scores in groups.items()]

    def write_csv(self, path: str | Path, *, models: Sequence[str] | None = None) -> None:
        """One row per image (a column per tag), written atomically; ``models``: the model of each
        image, for a file that merges several reports (by default this report's own)."""
        tag_keys = list(dict.fromkeys(key for score in self.images for key in score.tags))
        rows = []
        for score, model in zip(self.images, models or [self.model] * len(self.images)):
            row = asdict(score)
            tags = row.pop("tags")
            rows.append({"model": model, **row, **{key: tags.get(key, "") for key in tag_keys}})
        try:
            with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["name"])
                writer.writeheader()
                writer.writerows(rows)
        except OSError as exc:
            raise ZooError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _scores(estimate: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    return psnr(estimate, reference, data_range=DATA_RANGE), ssim(estimate, reference, data_range=DATA_RANGE)


def evaluate(denoiser: Denoiser, pairs: Sequence[Pair], *, model: str, data: str, progress: bool = True) -> EvalReport:
    """Score ``denoiser`` on every pair; only the denoiser's own call is timed."""
    report = EvalReport(model, data)
    if len(pairs):
        denoiser(pairs[0])  # untimed: the first call pays one-off set-up (allocator, kernels, CUDA)
    for pair in tqdm(pairs, unit="image", disable=not progress, desc=model):
        start = time.perf_counter()
        try:
            result = np.asarray(denoiser(pair), dtype=np.float32)
        except ValueError as exc:
            raise ZooError(f"{pair.name}: {exc}") from exc
        seconds = time.perf_counter() - start
        if result.shape != pair.clean.shape:
            raise ZooError(f"{model} returned shape {result.shape} for {pair.name}, expected {pair.clean.shape}")
        try:
            denoised_psnr, denoised_ssim = _scores(result, pair.clean)
            noisy_psnr, noisy_ssim = _scores(pair.noisy, pair.clean)
        except ValueError as exc:  # e.g. an image too small for SSIM's window
            raise ZooError(f"{pair.name}: {exc}") from exc
        height, width = pair.clean.shape[-2:]
        report.images.append(ImageScore(pair.name, denoised_psnr, denoised_ssim, noisy_psnr, noisy_ssim, seconds,
                                        height * width / 1e6, dict(pair.tags)))
    return report


def network_denoiser(runner, *, ensemble: bool = False, tile: int | None = None, overlap: int | None = None) -> Denoiser:
    """A network (through ``zoo.denoise``, any Runner) as a denoiser of pairs."""
    def run(pair: Pair) -> np.ndarray:
        return denoise(runner, pair.noisy, ensemble=ensemble, tile=tile,
                       overlap=DEFAULT_OVERLAP if overlap is None else overlap)

    return run


def oracle_sigma(pair: Pair) -> float:
    """The true noise level of a pair: the RMS of noisy minus clean."""
    return float(np.sqrt(np.mean((pair.noisy.astype(np.float64) - pair.clean) ** 2)))


def baseline_denoiser(name: str) -> Denoiser:
    """A classic baseline given each image's true noise level (an oracle setting)."""
    return lambda pair: denoise_classic(name, pair.noisy, oracle_sigma(pair), raw=pair.raw)
