"""``zoo distill``: the four-step recipe (docs/training-recipe.md) as one resumable pipeline.

1. Train the original network (mwresnet).  2. Train the siamese network (mwrcanet).
3. Denoise the noisy images of ``pseudo_from`` with both, average the two outputs, and fine-tune
   both networks on the training data plus these (noisy, average) pairs.
4. Fine-tune the siamese network alone on the noisy images against the outputs of both networks
   (their average: one target per pixel, which an L1 loss can be pulled all the way to), with
   the training data kept in the mix (``step4_pseudo_share``; 1 leaves it out).

Choices the method left open, made here:
- Every step hands on its final EMA weights. (Its best-by-validation weights stay in its run
  folder; a held-out image is a poor judge of how well a step fits the evaluation inputs, and
  on the built-in data the single validation image ranked checkpoints unlike the test set.)
- Pseudo-labels are each network's x8 self-ensemble output (``pseudo_ensemble``): the best
  each network can do, and how the final network is used anyway.

Each step trains in its own run folder, so a stopped pipeline resumes at the step (and the
checkpoint) where it stopped; delete a step's folder to train it again (its scores, and the
labels made from it, follow its new weights). Each step's test PSNR/SSIM, single pass and with
the x8 self-ensemble, goes into ``results.json`` and a closing table in the form of the
published one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from zoo.contract import input_channels_if_known
from zoo.data.pairs import Pair
from zoo.data.patches import Mixture, PairPatches
from zoo.data.specs import load_data, open_sources
from zoo.errors import ZooError
from zoo.evaluation import Denoiser, evaluate
from zoo.factory import create_model, load
from zoo.fileio import atomic_path
from zoo.infer import TorchRunner, denoise
from zoo.reading import read_json_object
from zoo.runlock import run_lock
from zoo.table import format_table
from zoo.train.trainer import TrainConfig, changed_settings, train

# What to do with a damaged file of the pipeline's (zoo.reading.read_json_object).
REDO = "move it away to redo what it records"
# Settings a finished pipeline may be run again with: they change no step's training.
RERUN_KEYS = ("out", "test", "val")
# The recipe's trainings: (run folder, network, step 0-3, the folder whose weights it fine-tunes).
TRAININGS = (("step1-original", "original", 0, None), ("step2-siamese", "siamese", 1, None),
             ("step3-original", "original", 2, "step1-original"), ("step3-siamese", "siamese", 2, "step2-siamese"),
             ("step4-siamese", "siamese", 3, "step3-siamese"))


@dataclass
class DistillConfig:
    out: str
    original: str = "mwresnet"
    siamese: str = "mwrcanet"
    original_config: dict[str, Any] = field(default_factory=dict)
    siamese_config: dict[str, Any] = field(default_factory=dict)
    data: list[str] = field(default_factory=lambda: ["synthraw"])
    pseudo_from: str = "synthraw"  # any `zoo eval` data: its noisy images get pseudo-labels
    test: str = "synthraw"
    steps: tuple[int, int, int, int] = (2000, 2000, 500, 500)
    lrs: tuple[float, float, float, float] = (2e-4, 2e-4, 5e-5, 5e-5)
    # Share of step three's patches drawn from the pseudo-labelled images (the rest: --data). A
    # few pseudo-labelled images make up that whole share, so a large one overfits them.
    pseudo_share: float = 0.25
    # Share of step four's patches from the pseudo-labelled images. 1 is the method's literal
    # "on the noisy images" alone: on the built-in data that lowered the test PSNR in every run,
    # while the fit to the labels rose; with the training data in the mix it moved less than
    # 0.01 dB either way.
    step4_pseudo_share: float = 0.25
    batch: int = 8
    patch: int = 128
    # Steps three and four fine-tune on whole pseudo-labelled blocks: the labels were made with
    # the whole image as context, which a small patch lacks at its borders and in its channel
    # attention's pooled statistics (on 96-pixel crops, fitting them moved the network away
    # from them on the whole images).
    finetune_batch: int = 4
    finetune_patch: int = 256
    # A shorter memory than training's 0.999: over a few hundred steps that would keep most of
    # the starting weights and damp the fine-tuning out.
    finetune_ema: float = 0.99
    val: str | None = "auto"  # every step's validation (see zoo.train.trainer.resolve_validation)
    pseudo_ensemble: bool = True  # pseudo-labels from each network's x8 self-ensemble
    seed: int = 0


def _given(outputs: list[np.ndarray], pairs: list[Pair]) -> Denoiser:
    """A denoiser that hands back outputs made beforehand, by pair (the average of two networks
    has no runner of its own, and the outputs are reused for pseudo-labels)."""
    by_pair = {id(pair): output for pair, output in zip(pairs, outputs)}
    return lambda pair: by_pair[id(pair)]


def _score(outputs: list[np.ndarray], ensembled: list[np.ndarray], pairs: list[Pair], data: str) -> dict[str, float]:
    """PSNR and SSIM of the single-pass outputs and PSNR of the x8 ones, scored as ``zoo eval``
    scores (per block, then the mean), and the noisy inputs' own PSNR and SSIM beside them."""
    single, x8 = (evaluate(_given(images, pairs), pairs, model="distill", data=data, progress=False).summary()
                  for images in (outputs, ensembled))
    return {"psnr": float(single["psnr"]), "ssim": float(single["ssim"]), "psnr_x8": float(x8["psnr"]),
            "noisy_psnr": float(single["noisy_psnr"]), "noisy_ssim": float(single["noisy_ssim"])}


def _fingerprint(weights: tuple[Path, ...]) -> list[str]:
    """The SHA-256 of each weights file. Cached labels and scores are keyed on it, not on the
    path: a step trained again (its folder deleted) writes new weights under the same path."""
    return [hashlib.sha256(Path(w).read_bytes()).hexdigest() for w in weights]


class Pipeline:
    def __init__(self, cfg: DistillConfig) -> None:
        if len(cfg.steps) != 4 or len(cfg.lrs) != 4:
            raise ZooError("give four step counts and four learning rates, one per step")
        if not 0 < cfg.pseudo_share < 1:
            raise ZooError("pseudo_share must be between 0 and 1")
        if not 0 < cfg.step4_pseudo_share <= 1:
            raise ZooError("step4_pseudo_share must be above 0 and at most 1")
        self.cfg, self.out = cfg, Path(cfg.out)
        for folder, *_ in TRAININGS:
            self._step_config(folder).check()  # bad options fail before any step trains
        self.results_file = self.out / "results.json"
        self.results: dict[str, Any] = read_json_object(self.results_file, "the pipeline's scores", missing_ok=True,
                                                        advice=REDO) or {}
        self._outputs: dict[tuple[Path, str, bool], list[np.ndarray]] = {}
        self.test: list[Pair] = []  # the test set's pairs, loaded by run()
        self.scored_on: str | None = None  # the test set of an earlier run in this folder

    def _denoise_all(self, weights: Path, pairs, name: str, ensemble: bool) -> list[np.ndarray]:
        """``weights``' outputs on the set ``name``, computed once per pipeline run."""
        key = (weights, name, ensemble)
        if key not in self._outputs:
            runner = TorchRunner(load(weights))
            self._outputs[key] = [denoise(runner, pair.noisy, ensemble=ensemble) for pair in pairs]
        return self._outputs[key]

    def _average(self, weights: tuple[Path, ...], pairs, name: str, ensemble: bool) -> list[np.ndarray]:
        """The networks' outputs on the set ``name``, averaged image by image."""
        each = [self._denoise_all(w, pairs, name, ensemble) for w in weights]
        return [cast(np.ndarray, sum(images)) / len(images) for images in zip(*each)]

    def _save_results(self) -> None:
        with atomic_path(self.results_file) as tmp:
            tmp.write_text(json.dumps(self.results, indent=2) + "\n")

    def _step_config(self, folder: str) -> TrainConfig:
        """The training settings of one of the recipe's :data:`TRAININGS`."""
        c = self.cfg
        _, network, step, start = next(t for t in TRAININGS if t[0] == folder)
        weights = self.out / start / "final.safetensors" if start else None
        fine_tuning = weights is not None  # steps three and four fine-tune the networks of steps one and two
        return TrainConfig(model=getattr(c, network), out=str(self.out / folder), model_config=getattr(c, f"{network}_config"),
                           weights=str(weights) if weights else None, data=c.data, steps=c.steps[step],
                           batch=c.finetune_batch if fine_tuning else c.batch,
                           patch=c.finetune_patch if fine_tuning else c.patch,
                           ema=c.finetune_ema if fine_tuning else TrainConfig.ema,
                           lr=c.lrs[step],
                           val=c.val, val_every=max(1, c.steps[step] // 8), checkpoint_every=max(1, c.steps[step] // 8),
                           seed=c.seed + step)

    def _finished(self, folder: str) -> Path | None:
        """The final weights of a training done in an earlier invocation (or copied in), if it
        was trained as this pipeline would train it; an error if it was not."""
        run = self.out / folder
        if not (run / "final.safetensors").is_file():
            return None
        if not (run / "config.json").is_file():
            raise ZooError(f"{run} has final weights but no config.json to tell how they were trained: "
                           "delete it to train it again")
        stored = read_json_object(run / "config.json", "the step's settings", advice=REDO)
        changed = changed_settings(stored, self._step_config(folder))
        if changed:
            raise ZooError(f"{run} was trained with other settings: {'; '.join(changed)}. "
                           "Delete it to train it again, or use another --out")
        return run / "final.safetensors"

    def _train(self, folder: str, source=None) -> Path:
        """Train one of :data:`TRAININGS`; returns the weights it hands on (its final EMA weights)."""
        train_cfg = self._step_config(folder)
        return self._finished(folder) or train(train_cfg, resume=(self.out / folder / "last.pt").is_file(), source=source)

    def _check_networks(self, sets: dict[str, list[Pair]], base) -> None:
        """Both networks must take the images of every set and of the training data, and every
        training's patch must fit its network's size grid: checked before step one trains, not
        when a later step first meets them."""
        networks = {}
        for role in ("original", "siamese"):
            name, config = getattr(self.cfg, role), getattr(self.cfg, f"{role}_config")
            with torch.device("meta"):  # the network's shape only: nothing is allocated
                model = create_model(name, **config)
            for folder, network, *_ in TRAININGS:
                if network == role:
                    self._step_config(folder).check(model)
            channels = input_channels_if_known(model)
            if channels is not None:  # a network whose input cannot be told: its first batch will tell
                networks[name] = channels
        found = {option: pairs[0].channels for option, pairs in sets.items() if pairs}
        found[f"--data {' '.join(self.cfg.data)}"] = base.channels
        for name, channels in networks.items():
            wrong = [f"{option} ({n})" for option, n in found.items() if n != channels]
            if wrong:
                raise ZooError(f"{name} takes {channels}-channel images; these have others: {', '.join(wrong)}")

    def _record(self, key: str, label: str, weights: tuple[Path, ...]) -> None:
        """Score ``weights`` (their average for two) on the test set, once per set of weights: a
        resumed pipeline does not denoise again."""
        c = self.cfg
        made_by = _fingerprint(weights)
        recorded = self.results.get(key, {})
        # (scores written by an older zoo do not name their set: the run's own then)
        if recorded.get("weights") != made_by or recorded.get("test", self.scored_on) != c.test:
            single, ensembled = (self._average(weights, self.test, c.test, ensemble) for ensemble in (False, True))
            self.results[key] = {"label": label, **_score(single, ensembled, self.test, c.test), "test": c.test, "weights": made_by}
            self._save_results()

    def _pseudo_pairs(self, name: str, noisy_pairs, made_by: tuple[Path, ...]) -> PairPatches:
        """(noisy, label) pairs, the label the average of the ``made_by`` networks' outputs. The
        labels are kept in ``name.npz``, so that a resumed step trains on the very same targets,
        and made again when what made them has changed."""
        cache = self.out / f"{name}.npz"
        origin = json.dumps({"weights": _fingerprint(made_by), "ensemble": self.cfg.pseudo_ensemble,
                             "images": [p.name for p in noisy_pairs]})
        labels = None
        if cache.is_file():
            with np.load(cache) as stored:
                if "origin" in stored and str(stored["origin"]) == origin:
                    labels = [stored[str(i)] for i in range(len(noisy_pairs))]
                else:
                    warnings.warn(f"{cache} was made from other weights, settings or images: making it again",
                                  RuntimeWarning, stacklevel=2)
        if labels is None:
            outputs = self._average(made_by, noisy_pairs, self.cfg.pseudo_from, self.cfg.pseudo_ensemble)
            labels = [np.asarray(t, np.float32) for t in outputs]
            with atomic_path(cache) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, origin=np.array(origin), **{str(i): label for i, label in enumerate(labels)})
        pairs = [Pair(p.name, np.asarray(p.noisy, np.float32), label, raw=p.raw) for p, label in zip(noisy_pairs, labels)]
        return PairPatches(pairs, mosaic=bool(pairs and pairs[0].raw))

    def run(self) -> dict[str, Any]:
        c = self.cfg
        settings = json.loads(json.dumps(dataclasses.asdict(c)))
        config_file = self.out / "config.json"
        earlier = read_json_object(config_file, "the pipeline's settings", missing_ok=True, advice=REDO)
        if earlier is not None:
            # A setting the file lacks (written by an older zoo) had its default then.
            defaults = json.loads(json.dumps(dataclasses.asdict(DistillConfig(out=c.out))))
            stored = {**defaults, **earlier}
            self.scored_on = stored["test"]
            changed = [k for k in settings if k not in RERUN_KEYS and stored[k] != settings[k]]
            if changed:
                raise ZooError(f"{self.out} holds a pipeline run with other settings ({', '.join(changed)}): "
                               "run it with its own settings, or use another --out")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cannot make the pipeline folder {self.out}: {exc.strerror}") from None
        self.test = list(load_data(c.test))
        pseudo_inputs = list(load_data(c.pseudo_from))
        small = [p.name for p in pseudo_inputs if min(p.noisy.shape[-2:]) < c.finetune_patch]
        if small:
            raise ZooError(f"{c.pseudo_from}: {len(small)} image(s) smaller than the {c.finetune_patch}-pixel "
                           f"fine-tuning patch (e.g. {small[0]}); lower --finetune-patch")
        base = open_sources(c.data)  # weighted specs and presets (mixed-raw) as in zoo train
        self._check_networks({"--test": self.test[:1], "--pseudo-from": pseudo_inputs[:1]}, base)
        for folder, *_ in TRAININGS:  # steps copied in from another run folder must fit this one
            self._finished(folder)
        with atomic_path(config_file) as tmp:
            tmp.write_text(json.dumps(settings, indent=2) + "\n")

        original = self._train("step1-original")
        self._record("step1", f"step one ({c.original})", (original,))
        siamese = self._train("step2-siamese")
        self._record("step2", f"step two ({c.siamese})", (siamese,))
        self._record("average", "average of both", (original, siamese))

        def with_base(pseudo: PairPatches, share: float):
            """``share`` of the patches from ``pseudo``, the rest from the training data."""
            return pseudo if share == 1 else Mixture([base, pseudo], [1 - share, share])

        mixture = with_base(self._pseudo_pairs("pseudo-step3", pseudo_inputs, (original, siamese)), c.pseudo_share)
        original3 = self._train("step3-original", mixture)
        siamese3 = self._train("step3-siamese", mixture)
        self._record("step3", f"step three ({c.siamese}, fine-tuned)", (siamese3,))

        both = self._pseudo_pairs("pseudo-step4", pseudo_inputs, (original3, siamese3))
        final = self._train("step4-siamese", with_base(both, c.step4_pseudo_share))
        self._record("step4", f"step four ({c.siamese}, final)", (final,))
        self.results["final_weights"] = str(final)
        self._save_results()
        return self.results


def format_results(results: dict[str, Any]) -> str:
    """The closing table: each step's test scores, under the noisy input's own (the level every
    step has to beat; a results.json written by an older zoo has none)."""
    steps = [results[k] for k in ("step1", "step2", "average", "step3", "step4") if k in results]
    rows = [[s["label"], f"{s['psnr']:.2f}", f"{s['ssim']:.4f}", f"{s['psnr_x8']:.2f}"] for s in steps]
    noisy = next((s for s in steps if "noisy_psnr" in s), None)
    if noisy is not None:  # the same test set for every step (a changed --test scores them all again)
        rows.insert(0, ["noisy input", f"{noisy['noisy_psnr']:.2f}", f"{noisy['noisy_ssim']:.4f}", "-"])
    return format_table(["step", "test PSNR dB", "SSIM", "x8 ensemble PSNR dB"], rows, right=(1, 2, 3))


def distill(cfg: DistillConfig) -> dict[str, Any]:
    """Run (or resume) the four steps; returns the per-step results. The pipeline folder is locked
    while it runs (its steps' own folders too, by :func:`~zoo.train.trainer.train`)."""
    with run_lock(cfg.out, "zoo distill"):
        torch.manual_seed(cfg.seed)
        return Pipeline(cfg).run()
