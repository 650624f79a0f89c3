"""``zoo train``: L1 (or Charbonnier) training with AdamW, warm-up then cosine decay, an EMA of
the weights, gradient clipping, mixed precision on a GPU, and exact resumption.

A run folder holds ``config.json``, ``last.pt`` (everything needed to resume, written
atomically), ``best.safetensors`` / ``final.safetensors`` (EMA weights in zoo's format),
``log.csv`` and ``curves.png``. Under ``torchrun`` it trains with DistributedDataParallel: each
rank draws its own batches, rank 0 validates, logs and saves.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from zoo.checkpoint import save
from zoo.contract import input_channels_if_known, size_multiple
from zoo.errors import ZooError
from zoo.factory import create_model
from zoo.fileio import atomic_path
from zoo.precision import DTYPES, PRECISIONS
from zoo.train.data import Mixture, Source, make_batch, open_source

LOSSES = ("l1", "charbonnier")
DEFAULT_WARMUP = 100
LOG_FIELDS = ["step", "lr", "loss", "val_psnr", "val_ssim", "seconds"]


@dataclass
class TrainConfig:
    model: str
    out: str
    model_config: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None  # start from these weights (fine-tuning)
    data: list[str] = field(default_factory=lambda: ["synthraw"])
    steps: int = 2000
    batch: int = 8
    patch: int = 128
    lr: float = 2e-4
    min_lr: float = 1e-6
    warmup: int | None = None  # None: DEFAULT_WARMUP steps, at most a tenth of the run
    weight_decay: float = 1e-4
    loss: str = "l1"
    ema: float = 0.999
    clip: float = 1.0  # max gradient norm; 0 turns clipping off
    precision: str = "float32"  # bfloat16 / float16: autocast on a GPU
    val: str | None = "auto"  # any `zoo eval` data; auto: see resolve_validation; None: no validation
    val_every: int = 250
    checkpoint_every: int = 250
    log_every: int = 10
    seed: int = 0

    def check(self, model: nn.Module | None = None) -> None:
        """Refuse settings that cannot train; with ``model``, also a patch off its size grid."""
        if self.loss not in LOSSES:
            raise ZooError(f"unknown loss '{self.loss}'; choose from {', '.join(LOSSES)}")
        for name in ("steps", "batch", "patch", "val_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ZooError(f"{name} must be at least 1")
        multiple = 1 if model is None else size_multiple(model)
        if self.patch % multiple:
            raise ZooError(f"patch must be a multiple of {multiple} (the model's size multiple), got {self.patch}")
        if not 0 <= self.ema < 1:
            raise ZooError("ema must be in [0, 1)")
        if not self.lr > 0:
            raise ZooError(f"lr must be positive, got {self.lr:g}")
        if self.min_lr < 0:
            raise ZooError(f"min_lr must not be negative, got {self.min_lr:g}")
        if self.warmup is not None and not 0 <= self.warmup <= self.steps:
            raise ZooError(f"warmup must be between 0 and steps ({self.steps}), got {self.warmup}")
        if self.clip < 0 or self.weight_decay < 0:
            raise ZooError("clip and weight_decay must not be negative")
        if self.precision not in PRECISIONS:
            raise ZooError(f"unknown precision '{self.precision}'; choose from {', '.join(PRECISIONS)}")

    @property
    def warmup_steps(self) -> int:
        """``warmup``, or by default :data:`DEFAULT_WARMUP` steps but at most a tenth of the run,
        so that a short run has most of its steps to decay in."""
        return warmup_steps(self.warmup, self.steps)


def warmup_steps(warmup: int | None, steps: int) -> int:
    return min(DEFAULT_WARMUP, steps // 10) if warmup is None else warmup


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


def loss_fn(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if name == "charbonnier":
        return torch.sqrt((output.float() - target) ** 2 + 1e-6).mean()
    return F.l1_loss(output.float(), target)


# --- distributed ---------------------------------------------------------------------------------

@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Distributed:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed()
    info = Distributed(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():  # NCCL's collectives run on the current device: this rank's own GPU
        torch.cuda.set_device(info.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if not torch.cuda.is_available():  # ranks on one machine share its cores
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return info


def check_replicas_in_step(model: nn.Module, ddp: Distributed) -> None:
    """Every rank must hold the same weights: DDP averages gradients, so a difference is a bug."""
    if ddp.world == 1:
        return
    with torch.no_grad():
        total = torch.zeros((), dtype=torch.float64, device=next(model.parameters()).device)
        for i, p in enumerate(model.parameters()):
            total += p.double().sum() * (i + 1)
    gathered = [torch.zeros_like(total) for _ in range(ddp.world)]
    dist.all_gather(gathered, total)
    if any(g.item() != gathered[0].item() for g in gathered):
        raise ZooError(f"replicas out of step: weight checksums {[g.item() for g in gathered]}")


# --- the run folder ------------------------------------------------------------------------------

class RunFolder:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    last = property(lambda self: self.path / "last.pt")
    best = property(lambda self: self.path / "best.safetensors")
    final = property(lambda self: self.path / "final.safetensors")
    log = property(lambda self: self.path / "log.csv")
    curves = property(lambda self: self.path / "curves.png")
    config = property(lambda self: self.path / "config.json")

    def read_log(self, up_to: int | None = None) -> list[dict[str, str]]:
        if not self.log.is_file():
            return []
        with open(self.log, newline="") as handle:
            rows = list(csv.DictReader(handle))
        return [r for r in rows if up_to is None or int(r["step"]) <= up_to]

    def write_log(self, rows: list[dict[str, Any]]) -> None:
        with atomic_path(self.log) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)


# Settings that must not change when a run is resumed: the batches, the model and its updates
# depend on them. (Validation, logging and checkpoint intervals may change.)
RESUME_KEYS = ("model", "model_config", "weights", "data", "batch", "patch", "seed", "loss", "steps", "warmup", "lr",
               "min_lr", "weight_decay", "ema", "clip", "precision")
# ``val="auto"``: the held-out built-in blocks of the model's kind.
AUTO_VALIDATION = {1: "synthval", 3: "synthval-srgb"}


def training_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The :data:`RESUME_KEYS` of a config as ``dataclasses.asdict`` (then JSON) gives it. Of the
    starting weights only whether there were any counts: a checkpoint holds the weights since."""
    plain = json.loads(json.dumps(config))
    settings = {k: bool(plain.get(k)) if k == "weights" else plain.get(k) for k in RESUME_KEYS}
    settings["warmup"] = warmup_steps(plain.get("warmup"), plain.get("steps", 0))  # what the schedule used
    return settings


def changed_settings(stored: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The training settings in which ``cfg`` differs from a run's ``stored`` config, each as
    ``name (the run has X, now Y)``."""
    old, new = training_settings(stored), training_settings(dataclasses.asdict(cfg))
    return [f"{k} (the run has {json.dumps(old[k])}, now {json.dumps(new[k])})" for k in RESUME_KEYS if old[k] != new[k]]


def resolve_validation(spec: str | None, channels: int | None) -> str | None:
    """``auto`` -> ``synthval`` for a raw (1-channel) model, ``synthval-srgb`` for an sRGB one,
    none for other inputs; any other spec as given."""
    return AUTO_VALIDATION.get(channels or 0) if spec == "auto" else spec


def _open_sources(specs: list[str]) -> Source:
    sources = [open_source(spec) for spec in specs]
    kinds = {spec: source.channels for spec, source in zip(specs, sources)}
    if len(set(kinds.values())) > 1:
        raise ZooError("training data of different channel counts cannot be mixed: "
                       + ", ".join(f"{spec} ({n})" for spec, n in kinds.items()))
    return sources[0] if len(sources) == 1 else Mixture(sources, [1.0] * len(sources))


def validate(model: nn.Module, pairs, spec: str, device: torch.device) -> tuple[float, float]:
    """Mean PSNR and SSIM of ``model`` on the validation pairs (read once per run, not per call)."""
    from zoo.evaluation import evaluate, network_denoiser
    from zoo.infer import TorchRunner

    runner = TorchRunner(model, device=device)
    report = evaluate(network_denoiser(runner), pairs, model="val", data=spec, progress=False)
    summary = report.summary()
    return float(summary["psnr"]), float(summary["ssim"])


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True, source: Source | None = None) -> Path:
    """Run (or resume) training; returns the final EMA weights file. ``source`` overrides
    ``cfg.data`` (the distillation recipe passes its pseudo-labelled mixtures this way)."""
    cfg.check()
    ddp = init_distributed()
    device = torch.device(f"cuda:{ddp.local_rank}" if torch.cuda.is_available() else "cpu")
    if cfg.precision == "float16" and device.type != "cuda":
        raise ZooError("float16 training needs a GPU; on a CPU use float32 or bfloat16")
    amp_dtype = None if cfg.precision == "float32" else DTYPES[cfg.precision]  # mixed precision: autocast
    run = RunFolder(cfg.out)
    if run.last.exists() and not resume:
        raise ZooError(f"{run.path} holds a run already: use --resume to continue it, or another --out")

    data = source or _open_sources(cfg.data)  # bad data fails before the run folder is made
    torch.manual_seed(cfg.seed)  # every rank builds the same initial weights
    model = create_model(cfg.model, weights=cfg.weights, **cfg.model_config)
    cfg.check(model)
    channels = input_channels_if_known(model)  # None: the first batch will tell
    if channels is not None and data.channels != channels:
        raise ZooError(f"the model takes {channels}-channel images, the training data has {data.channels}")
    val = resolve_validation(cfg.val, channels)
    if cfg.val == "auto" and val is None:
        warnings.warn(f"no built-in validation set for a model of {channels} input channels: training without "
                      "validation (give one with --val)", RuntimeWarning, stacklevel=2)
    cfg = dataclasses.replace(cfg, val=val)
    val_pairs = []
    if ddp.main and cfg.val:  # read, and checked, before the first step
        from zoo.evaluation import load_data

        val_pairs = list(load_data(cfg.val))
        if channels is not None and val_pairs and val_pairs[0].channels != channels:
            raise ZooError(f"the model takes {channels}-channel images, the validation data {cfg.val} has "
                           f"{val_pairs[0].channels} (choose another --val, or none)")
    model = model.to(device, memory_format=torch.channels_last).train()
    for p in model.parameters():  # 1x1 kernels: their channels_last strides differ from their gradients,
        if p.dim() == 4 and p.shape[-2:] == (1, 1):  # which DDP's gradient buckets would warn about
            p.data = p.data.clone(memory_format=torch.contiguous_format)
    ema = EMA(model, cfg.ema, short_start=cfg.weights is None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, cfg))
    scaler = torch.amp.GradScaler(enabled=amp_dtype == torch.float16)
    start, best_psnr = 0, -math.inf
    losses: list[float] = []  # the training losses since the last log row
    elapsed = 0.0  # seconds of training before this invocation

    if resume and run.last.exists():
        state = torch.load(run.last, map_location=device, weights_only=True)
        changed = changed_settings(json.loads(state["config"]), cfg)
        if changed:
            raise ZooError(f"cannot resume {run.path} with different {', '.join(changed)}")
        model.load_state_dict(state["model"])
        ema.shadow = state["ema"]
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"].cpu())
        start, best_psnr = int(state["step"]), float(state["best_psnr"])
        losses, elapsed = list(state.get("log_losses", [])), float(state.get("seconds", 0.0))
    if ddp.main:
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cannot make the run folder {run.path}: {exc.strerror}") from None
        with atomic_path(run.config) as tmp:
            tmp.write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")
    log_rows = run.read_log(up_to=start) if ddp.main else []  # rows after the checkpoint are redone

    net: nn.Module = model
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    writer = _tensorboard(run.path) if ddp.main else None

    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.steps, initial=start, unit="step", disable=not (progress and ddp.main), desc=cfg.model)
    last_val = math.nan
    started = time.perf_counter() - elapsed
    for step in range(start, cfg.steps):
        noisy, clean = make_batch(data, seed=cfg.seed, step=step, rank=ddp.rank, batch=cfg.batch, patch=cfg.patch)
        noisy = noisy.to(device, memory_format=torch.channels_last, non_blocking=True)
        clean = clean.to(device, memory_format=torch.channels_last, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            output = net(noisy)
        loss = loss_fn(cfg.loss, output, clean)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        lr = optimizer.param_groups[0]["lr"]  # the rate this step ran at (logged below)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        ema.update(model, step)
        losses.append(loss.item())
        done = step + 1
        bar.update(1)

        row = None
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {"step": done, "lr": lr, "loss": sum(losses) / len(losses),
                   "val_psnr": "", "val_ssim": "", "seconds": round(time.perf_counter() - started, 2)}
            losses = []
        if ddp.main and cfg.val and (done % cfg.val_every == 0 or done == cfg.steps):
            averaged = ema.model(model).eval()
            psnr_value, ssim_value = validate(averaged, val_pairs, cfg.val, device)
            last_val = psnr_value
            row = row or {"step": done, "lr": lr, "loss": "", "seconds": ""}
            row.update(val_psnr=round(psnr_value, 4), val_ssim=round(ssim_value, 5))
            if psnr_value > best_psnr:
                best_psnr = psnr_value
                save(averaged.cpu(), run.best)
        if row is not None and ddp.main:
            log_rows.append(row)
            bar.set_postfix(loss=f"{row['loss']:.4f}" if row["loss"] != "" else "-", psnr=f"{last_val:.2f}")
            if writer is not None:
                for key in ("loss", "val_psnr", "lr"):
                    if row.get(key) not in ("", None):
                        writer.add_scalar(key, float(row[key]), done)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            check_replicas_in_step(model, ddp)
            if ddp.main:
                state = {"step": done, "model": model.state_dict(), "ema": ema.shadow,
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "scaler": scaler.state_dict(), "rng": torch.get_rng_state(), "best_psnr": best_psnr,
                         "config": json.dumps(dataclasses.asdict(cfg)),
                         # a resumed run's log rows then match an uninterrupted run's
                         "log_losses": losses, "seconds": time.perf_counter() - started}
                with atomic_path(run.last) as tmp:
                    torch.save(state, tmp)
                run.write_log(log_rows)  # the log never runs ahead of the checkpoint it goes with
    bar.close()
    if ddp.main:
        final = ema.model(model).cpu()
        save(final, run.final)
        if not run.best.exists():  # no validation: the final weights are the best known
            save(final, run.best)
        plot_curves(run)
    if writer is not None:
        writer.close()
    if ddp.world > 1:
        dist.barrier()
    return run.final


def _tensorboard(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # TensorBoard is optional: the CSV log always exists
        return None
    return SummaryWriter(str(path / "tensorboard"))


def plot_curves(run: RunFolder) -> None:
    """Loss and validation PSNR against step, as a PNG beside the log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = run.read_log()
    loss = [(int(r["step"]), float(r["loss"])) for r in rows if r["loss"]]
    val = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r["val_psnr"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    if loss:
        left.plot(*zip(*loss))
    left.set(xlabel="step", ylabel="training loss", yscale="log", title="loss")
    if val:
        right.plot(*zip(*val), marker="o")
    right.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR (EMA weights)")
    fig.tight_layout()
    with atomic_path(run.curves) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
