"""``zoo train``: the training loop. L1 (or Charbonnier) loss, AdamW, warm-up then cosine decay,
an EMA of the weights, gradient clipping, mixed precision on a GPU, and exact resumption
(docs/training-recipe.md).

The settings are :class:`~zoo.train.config.TrainConfig`; the run folder and its log are
:mod:`zoo.train.runfolder`, its plot :mod:`zoo.train.curves`; resuming and extending a run,
:mod:`zoo.train.resume`; several processes (``torchrun``) are :mod:`zoo.train.distributed`:
each rank draws its own batches, rank 0 validates, logs and saves.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from zoo.checkpoint import load_state_dict_strict, save
from zoo.contract import guarded_forward, input_channels_if_known, model_config, model_name, noise_channels, probe_blocks
from zoo.data.pairs import Pair
from zoo.data.patches import NoiseMapped, Source, make_batch
from zoo.data.specs import load_data, open_sources
from zoo.errors import ZooError, first_line
from zoo.evaluation import evaluate, network_denoiser
from zoo.configcheck import check_untrusted_config
from zoo.factory import create_model
from zoo.modelfile import is_model_file
from zoo.infer import TorchRunner
from zoo.precision import DTYPES
from zoo.runlock import run_lock
# Other code imports these from here (`from zoo.train.trainer import TrainConfig, train`): kept in __all__.
from zoo.train.config import LOSSES, TrainConfig, changed_settings, resolve_validation
from zoo.torchrun import Place
from zoo.train.distributed import check_replicas_in_step, init_distributed
from zoo.train.curves import plot_curves
from zoo.train.resume import follow_schedule, resume_changes, resumed_config
from zoo.train.runfolder import RunFolder, RunLog

__all__ = ["EMA", "LOSSES", "TrainingDiverged", "RunFolder", "TrainConfig", "changed_settings", "init_distributed", "lr_factor", "train"]


class TrainingDiverged(ZooError):
    """The loss or the weights became NaN or Inf: the run stops, saving nothing poisoned."""


class EMA:
    """Exponential moving average of a model's parameters (its buffers are copied).

    From a random initialisation the memory starts short, so that early averages are not
    dominated by the random weights. From given weights (fine-tuning) it starts full: the
    average begins at those trained weights and only gradually takes in the new steps, instead
    of following the first, noisiest steps of a fresh optimizer.
    """

    def __init__(self, model: nn.Module, decay: float, *, short_start: bool = True) -> None:
        self.decay, self.short_start = decay, short_start
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step)) if self.short_start else self.decay
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                self.shadow[key].lerp_(value.detach(), 1.0 - decay)
            else:
                self.shadow[key].copy_(value)

    def model(self, like: nn.Module) -> nn.Module:
        averaged = copy.deepcopy(like)
        averaged.load_state_dict(self.shadow)
        return averaged


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_lr`` (or ``lr``, if lower)."""
    warmup = cfg.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, cfg.steps - warmup)
    floor = min(cfg.min_lr, cfg.lr) / cfg.lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def loss_fn(name: str, output: torch.Tensor, target: torch.Tensor, noisy: torch.Tensor | None = None) -> torch.Tensor:
    """``l1``, ``charbonnier``, or ``relative-l1``: each patch's L1 divided by its own noise level
    (the RMS of noisy minus clean), then scaled by the batch's mean level. Plain L1 is dominated by
    the noisiest patches, so a network learns least where the noise is lowest, and there it can
    end up worse than its input (blurring detail that was barely noisy); weighting each patch by
    the inverse of its noise gives every level the same say, as a PSNR gain does."""
    if name == "charbonnier":
        return torch.sqrt((output.float() - target) ** 2 + 1e-6).mean()
    if name == "relative-l1":
        if noisy is None:
            raise ValueError("relative-l1 needs the noisy batch")
        per_patch = (output.float() - target).abs().mean(dim=(1, 2, 3))
        level = (noisy.float() - target).pow(2).mean(dim=(1, 2, 3)).sqrt().clamp(min=1e-4)
        return (per_patch / level).mean() * level.mean().detach()
    return F.l1_loss(output.float(), target)


def validate(model: nn.Module, pairs, spec: str, device: torch.device) -> dict[str, float]:
    """Mean PSNR and SSIM of ``model`` on the validation pairs (read once per run, not per call),
    and of the noisy inputs themselves (``noisy_psnr``, ``noisy_ssim``)."""
    runner = TorchRunner(model, device=device)
    report = evaluate(network_denoiser(runner), pairs, model="val", data=spec, progress=False)
    summary = report.summary()
    return {key: float(summary[key]) for key in ("psnr", "ssim", "noisy_psnr", "noisy_ssim")}


class _Training:
    """What one invocation of :func:`train` carries from step to step: the model and what updates
    it, the counters ``last.pt`` saves, and the step, validation and checkpoint the loop runs."""

    def __init__(self, cfg: TrainConfig, model: nn.Module, run: RunFolder, ddp: Place, device: torch.device,
                 amp_dtype: torch.dtype | None) -> None:
        self.cfg, self.model, self.run, self.ddp, self.device, self.amp_dtype = cfg, model, run, ddp, device, amp_dtype
        self.ema = EMA(model, cfg.ema, short_start=cfg.weights is None)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
        # self.cfg, not cfg: an extended run's restore() changes it (resumed_config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: lr_factor(step, self.cfg))
        self.scaler = torch.amp.GradScaler(enabled=amp_dtype == torch.float16)
        self.start, self.best_psnr = 0, -math.inf
        self.losses: list[float] = []  # the training losses since the last log row
        self.elapsed = 0.0  # seconds of training before this invocation
        self.net: nn.Module = model  # what runs the batches: the model, or DDP around it
        self.noisy_recorded = False  # the validation set's noisy-input scores, written at the first validation

    def restore(self) -> None:
        """Continue from ``last.pt``, refusing other training settings than the run's."""
        state = self.run.load_state(self.device)
        try:
            stored = json.loads(state["config"])
        except ValueError:
            raise ZooError(f"cannot resume from {self.run.last}: its settings are not JSON") from None
        if not isinstance(stored, dict):
            raise ZooError(f"cannot resume from {self.run.last}: its settings are not a JSON object")
        self.cfg = resumed_config(stored, self.cfg)  # more steps than the run's: extended, with its warm-up
        changed = resume_changes(stored, self.cfg)
        if changed:
            raise ZooError(f"cannot resume {self.run.path} with different {', '.join(changed)}")
        try:
            self.model.load_state_dict(state["model"])
            if set(state["ema"]) != set(self.ema.shadow):
                raise KeyError("ema")
            self.ema.shadow = state["ema"]
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["rng"].cpu())
            self.start, self.best_psnr = int(state["step"]), float(state["best_psnr"])
            self.losses, self.elapsed = list(state.get("log_losses", [])), float(state.get("seconds", 0.0))
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise ZooError(f"cannot resume from {self.run.last}: it does not fit this run "
                           f"({type(exc).__name__}: {first_line(exc)[:200]})") from None
        if not 0 <= self.start <= self.cfg.steps:
            raise ZooError(f"cannot resume from {self.run.last}: its step {self.start} is outside 0..{self.cfg.steps}")
        if self.cfg.steps != stored.get("steps"):  # extended: from here on the new step count's schedule
            follow_schedule(self.scheduler)

    def step(self, data: Source, step: int) -> float:
        """Train on batch ``step``; returns the learning rate it ran at."""
        cfg, device = self.cfg, self.device
        noisy, clean = make_batch(data, seed=cfg.seed, step=step, rank=self.ddp.rank, batch=cfg.batch, patch=cfg.patch)
        noisy = noisy.to(device, memory_format=torch.channels_last, non_blocking=True)
        clean = clean.to(device, memory_format=torch.channels_last, non_blocking=True)
        with torch.autocast(device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None), \
                guarded_forward(model_name(self.model)):
            output = self.net(noisy)
        loss = loss_fn(cfg.loss, output, clean, noisy[:, :clean.shape[1]])  # a noise-aware model's map follows
        if not torch.isfinite(loss):  # stop before a NaN reaches the weights (and anything saved)
            raise TrainingDiverged(f"training diverged at step {step + 1}: the loss is {loss.item()} "
                                   f"({self._kept()}); lower --lr, or keep --clip on")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this step ran at (logged)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.ema.update(self.model, step)
        self.losses.append(loss.item())
        return lr

    def _kept(self) -> str:
        return f"{self.run.last} keeps the last good checkpoint" if self.run.last.exists() else "nothing was saved"

    def check_finite(self, step: int) -> None:
        """Refuse to save weights holding NaN or Inf: a finite loss can still come with an
        overflowing gradient, and what is saved must never be poisoned."""
        for where, tensors in (("weights", self.model.state_dict()), ("EMA weights", self.ema.shadow)):
            bad = next((k for k, v in tensors.items() if v.dtype.is_floating_point and not torch.isfinite(v).all()), None)
            if bad is not None:
                raise TrainingDiverged(f"training diverged by step {step}: the {where} hold NaN or Inf ({bad}; "
                                       f"{self._kept()}); lower --lr, or keep --clip on")

    def validate(self, val_pairs: Sequence[Pair], step: int) -> tuple[float, float]:
        """Score the EMA weights; the best so far are saved as ``best.safetensors``."""
        self.check_finite(step)
        averaged = self.ema.model(self.model).eval()
        if self.cfg.val is None:  # the loop validates only when there is a validation set
            raise ZooError("no validation set to validate on")
        scores = validate(averaged, val_pairs, self.cfg.val, self.device)
        psnr_value, ssim_value = scores["psnr"], scores["ssim"]
        if not self.noisy_recorded:  # the input's own score: the line the curves are read against
            self.run.write_validation({"val": self.cfg.val, "noisy_psnr": scores["noisy_psnr"],
                                       "noisy_ssim": scores["noisy_ssim"]})
            self.noisy_recorded = True
        if psnr_value > self.best_psnr:
            self.best_psnr = psnr_value
            save(averaged.cpu(), self.run.best)
        return psnr_value, ssim_value

    def checkpoint(self, done: int, started: float, log: RunLog | None) -> None:
        """Check that the replicas agree; rank 0 writes ``last.pt`` and then the log."""
        check_replicas_in_step(self.model, self.ddp)
        if not self.ddp.main:
            return
        self.check_finite(done)
        self.run.save_state({
            "step": done, "model": self.model.state_dict(), "ema": self.ema.shadow,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "rng": torch.get_rng_state(), "best_psnr": self.best_psnr,
            "config": json.dumps(dataclasses.asdict(self.cfg)),
            # a resumed run's log rows then match an uninterrupted run's
            "log_losses": self.losses, "seconds": time.perf_counter() - started})
        if log is not None:
            log.write()  # the log never runs ahead of the checkpoint it goes with


def _validation_set(cfg: TrainConfig, channels: int | None, main: bool) -> tuple[TrainConfig, list[Pair]]:
    """``cfg`` with its validation set resolved, and that set's pairs (read once, by rank 0, and
    checked before the first step)."""
    val = resolve_validation(cfg.val, channels)
    if cfg.val == "auto" and val is None:
        warnings.warn(f"no built-in validation set for a model of {channels} input channels: training without "
                      "validation (give one with --val)", RuntimeWarning, stacklevel=3)
    cfg = dataclasses.replace(cfg, val=val)
    val_pairs: list[Pair] = []
    if main and cfg.val:
        val_pairs = list(load_data(cfg.val))
        if channels is not None and val_pairs and val_pairs[0].channels != channels:
            raise ZooError(f"the model takes {channels}-channel images, the validation data {cfg.val} has "
                           f"{val_pairs[0].channels} (choose another --val, or none)")
    return cfg, val_pairs


def _build(cfg: TrainConfig, run: RunFolder, resume: bool) -> nn.Module:
    """The model to train. A resumed run whose starting weights file is gone (or was moved) is
    rebuilt from the architecture its ``config.json`` recorded: ``last.pt`` holds the weights."""
    weights = cfg.weights
    if cfg.model_config and not is_model_file(cfg.model):
        # counted on the meta device first: depth 10^6 built for hours before anything was said
        check_untrusted_config(cfg.model, cfg.model_config, "--config")
    if resume and run.last.exists() and weights and not Path(weights).expanduser().is_file():
        built = run.read_settings().get("built_config")
        if isinstance(built, dict):
            return create_model(cfg.model, **{**built, **cfg.model_config})
    return create_model(cfg.model, weights=weights, **cfg.model_config)


def _for_training(model: nn.Module, device: torch.device) -> nn.Module:
    model = model.to(device, memory_format=torch.channels_last).train()  # type: ignore[call-overload]  # Module.to takes it; its stubs omit it
    for p in model.parameters():  # 1x1 kernels: their channels_last strides differ from their gradients,
        if p.dim() == 4 and p.shape[-2:] == (1, 1):  # which DDP's gradient buckets would warn about
            p.data = p.data.clone(memory_format=torch.contiguous_format)
    return model


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True, source: Source | None = None) -> Path:
    """Run (or resume) training; returns the final EMA weights file. ``source`` overrides
    ``cfg.data`` (the distillation recipe passes its pseudo-labelled mixtures this way)."""
    cfg.check()
    ddp = init_distributed()
    device = torch.device(f"cuda:{ddp.local_rank}" if torch.cuda.is_available() else "cpu")
    if cfg.precision == "float16" and device.type != "cuda":
        raise ZooError("float16 training needs a GPU; on a CPU use float32 or bfloat16")
    amp_dtype = None if cfg.precision == "float32" else DTYPES[cfg.precision]  # mixed precision: autocast
    with contextlib.ExitStack() as lock:  # the run folder's lock, once the checks have passed
        return _train(cfg, ddp, device, amp_dtype, resume=resume, progress=progress, source=source, lock=lock)


def _train(cfg: TrainConfig, ddp: Place, device: torch.device, amp_dtype: torch.dtype | None, *, resume: bool,
           progress: bool, source: Source | None, lock: contextlib.ExitStack) -> Path:
    run = RunFolder(cfg.out)
    if run.last.exists() and not resume:
        raise ZooError(f"{run.path} holds a run already: use --resume to continue it, or another --out")

    data = source or open_sources(cfg.data)  # bad data fails before the run folder is made
    torch.manual_seed(cfg.seed)  # every rank builds the same initial weights
    model = _build(cfg, run, resume)
    cfg.check(model)
    channels = input_channels_if_known(model)  # None: the first batch will tell
    if channels is not None and data.channels != channels:
        raise ZooError(f"the model takes {channels}-channel images, the training data has {data.channels}")
    # one pass before the first step: a block or model whose channel count lies is named here
    probe_blocks(model, data.channels + noise_channels(model), cfg.patch)
    if noise_channels(model):
        data = NoiseMapped(data)
    cfg, val_pairs = _validation_set(cfg, channels, ddp.main)
    if ddp.main:  # one writer per run folder: a second `zoo train --out` of it is refused, not mixed in
        lock.enter_context(run_lock(cfg.out, "zoo train"))
        if run.last.exists() and not resume:  # again, now that no other process can be writing it
            raise ZooError(f"{run.path} holds a run already: use --resume to continue it, or another --out")
    training = _Training(cfg, _for_training(model, device), run, ddp, device, amp_dtype)
    if resume and run.last.exists():
        training.restore()
        cfg = training.cfg  # an extended run's (resumed_config)
    if ddp.main:
        # built_config: the architecture as built (a starting weights file adds its stored config),
        # so that a resumed run can be rebuilt without that file
        run.create({**dataclasses.asdict(cfg), "built_config": model_config(model)})
    log = RunLog(run, start=training.start) if ddp.main else None  # rows after the checkpoint are redone
    if ddp.world > 1:
        training.net = nn.parallel.DistributedDataParallel(
            training.model, device_ids=[device.index] if device.type == "cuda" else None)

    bar = tqdm(total=cfg.steps, initial=training.start, unit="step", disable=not (progress and ddp.main), desc=cfg.model)
    last_val = math.nan
    started = time.perf_counter() - training.elapsed
    with bar:  # closed before an error is printed, so the error has its own line
        for step in range(training.start, cfg.steps):
            lr = training.step(data, step)
            done = step + 1
            bar.update(1)
            row: dict[str, Any] | None = None
            if done % cfg.log_every == 0 or done == cfg.steps:
                losses = training.losses
                row = {"step": done, "lr": lr, "loss": sum(losses) / len(losses),
                       "val_psnr": "", "val_ssim": "", "seconds": round(time.perf_counter() - started, 2)}
                training.losses = []
            if ddp.main and cfg.val and (done % cfg.val_every == 0 or done == cfg.steps):
                last_val, ssim_value = training.validate(val_pairs, done)
                row = row or {"step": done, "lr": lr, "loss": "", "seconds": ""}
                row.update(val_psnr=round(last_val, 4), val_ssim=round(ssim_value, 5))
            if row is not None and log is not None:
                log.add(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}" if row["loss"] != "" else "-", psnr=f"{last_val:.2f}")
            if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                training.checkpoint(done, started, log)
    if ddp.main:
        training.check_finite(cfg.steps)
        final = training.ema.model(training.model).cpu()
        save(final, run.final)
        if not run.best.exists():  # no validation: the final weights are the best known
            save(final, run.best)
        plot_curves(run)
    if log is not None:
        log.close()
    if ddp.world > 1:
        dist.barrier()
    return run.final


def start_from_weights(cfg: TrainConfig, state_dict: dict[str, torch.Tensor], step: int, best_psnr: float) -> None:
    """Write ``cfg.out``'s ``last.pt`` as if a run of ``cfg`` had stopped at ``step`` with
    ``state_dict`` (EMA weights) as both its weights and their average, and AdamW's moments not
    yet gathered. ``train(cfg', resume=True)`` with more steps then extends it as it extends any
    run. For a search's rung checkpoint carried to another session without the run folder (the
    weights are small enough to commit; the optimizer's state is twice their size)."""
    if not 0 < step <= cfg.steps:
        raise ZooError(f"cannot start {cfg.out} at step {step}: outside 1..{cfg.steps}")
    run = RunFolder(cfg.out)
    torch.manual_seed(cfg.seed)
    model = _build(cfg, run, resume=False)
    load_state_dict_strict(model, state_dict, "the rung checkpoint")
    training = _Training(cfg, _for_training(model, torch.device("cpu")), run, Place(), torch.device("cpu"), None)
    training.ema.shadow = {k: v.detach().clone() for k, v in training.model.state_dict().items()}
    with warnings.catch_warnings():  # no optimizer step came first: torch warns, nothing is wrong
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(step):  # the schedule at ``step``; follow_schedule sets the rates on resume
            training.scheduler.step()
    training.start, training.best_psnr = step, best_psnr
    run.path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + step)
    training.checkpoint(step, time.perf_counter(), None)
