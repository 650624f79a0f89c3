"""A training run's folder: where each file goes, the CSV log, TensorBoard and the curves plot.

``config.json`` holds the settings; ``last.pt`` all that a resumed run needs (written
atomically); ``log.csv`` the log, rewritten with each checkpoint so that it never runs ahead of
it; ``best.safetensors`` and ``final.safetensors`` EMA weights in zoo's format; ``curves.png`` the
loss and validation curves; ``tensorboard/`` the same scalars, when TensorBoard is installed.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.fileio import atomic_path

LOG_FIELDS = ["step", "lr", "loss", "val_psnr", "val_ssim", "seconds"]


class RunFolder:
    """The files of one training run (see the module's docstring)."""

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

    def create(self, settings: dict[str, Any]) -> None:
        """Make the folder (a one-line error if it cannot be) and write its ``config.json``."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cannot make the run folder {self.path}: {exc.strerror}") from None
        with atomic_path(self.config) as tmp:
            tmp.write_text(json.dumps(settings, indent=2) + "\n")

    def save_state(self, state: dict[str, Any]) -> None:
        """Write ``last.pt`` atomically: a kill leaves the previous checkpoint whole."""
        with atomic_path(self.last) as tmp:
            torch.save(state, tmp)

    def load_state(self, device: torch.device) -> dict[str, Any]:
        return torch.load(self.last, map_location=device, weights_only=True)


class RunLog:
    """A run's log rows: kept in memory, sent to TensorBoard as they come, and written to
    ``log.csv`` with each checkpoint. A resumed run starts from the rows up to its checkpoint and
    redoes the rest."""

    def __init__(self, run: RunFolder, start: int) -> None:
        self.run = run
        self.rows = run.read_log(up_to=start)
        self.writer = _tensorboard(run.path)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if self.writer is not None:
            for key in ("loss", "val_psnr", "lr"):
                if row.get(key) not in ("", None):
                    self.writer.add_scalar(key, float(row[key]), row["step"])

    def write(self) -> None:
        self.run.write_log(self.rows)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


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
