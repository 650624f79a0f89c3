"""A training run's folder: where each file goes, the CSV log and TensorBoard.

``config.json`` holds the settings (what ``zoo train --resume`` continues with); ``last.pt`` all
that a resumed run needs (written atomically); ``log.csv`` the log, rewritten with each
checkpoint so that it never runs ahead of it; ``validation.json`` the validation set and its noisy
input's PSNR and SSIM, the level a network has to beat, written at the first validation;
``best.safetensors`` and ``final.safetensors`` EMA weights in zoo's format; ``curves.png`` the
curves (:mod:`zoo.train.curves`); ``tensorboard/`` the log's scalars, when TensorBoard is
installed (the ``tensorboard`` extra).
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from zoo.errors import DamagedFile, ZooError, first_line
from zoo.fileio import atomic_path
from zoo.reading import read_json_object

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
    validation = property(lambda self: self.path / "validation.json")

    def read_log(self, up_to: int | None = None) -> list[dict[str, str]]:
        """The log's rows (up to step ``up_to``), checked: a damaged ``log.csv`` is one line."""
        if not self.log.is_file():
            return []
        try:
            with open(self.log, newline="") as handle:
                rows = list(csv.DictReader(handle))
            for row in rows:
                row["step"] = str(int(row["step"]))
                for key in LOG_FIELDS[1:]:
                    if row.get(key):
                        float(row[key])
        except (OSError, csv.Error, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ZooError(f"{self.log} is not a zoo training log ({type(exc).__name__}: {first_line(exc)}); "
                           "move it away to start the log afresh") from None
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

    def read_settings(self) -> dict[str, Any]:
        """``config.json`` as written by :meth:`create`, or nothing when it is missing; damaged,
        a one-line :class:`~zoo.errors.DamagedFile` (:func:`zoo.reading.read_json_object`)."""
        return read_json_object(self.config, "the run's settings", missing_ok=True,
                                advice="repair it, or use another --out") or {}

    def write_validation(self, info: dict[str, Any]) -> None:
        """Write ``validation.json``: the validation set and its noisy input's scores."""
        with atomic_path(self.validation) as tmp:
            tmp.write_text(json.dumps(info, indent=2) + "\n")

    def read_validation(self) -> dict[str, Any]:
        """``validation.json``, or nothing when there is none (no validation yet, or a run made by
        an older zoo); damaged, nothing and a warning: it only draws a line on the curves, and
        the run's next validation writes it again."""
        try:
            return read_json_object(self.validation, "the validation record", missing_ok=True) or {}
        except DamagedFile as exc:
            warnings.warn(f"{exc}; the curves go without the noisy input's line until the next validation "
                          "writes it again", RuntimeWarning, stacklevel=2)
            return {}

    def save_state(self, state: dict[str, Any]) -> None:
        """Write ``last.pt`` atomically: a kill leaves the previous checkpoint whole."""
        with atomic_path(self.last) as tmp:
            torch.save(state, tmp)

    def load_state(self, device: torch.device) -> dict[str, Any]:
        """``last.pt`` (tensors and plain values only: loading runs no code); a truncated, empty
        or foreign file is one line."""
        try:
            state = torch.load(self.last, map_location=device, weights_only=True)
        except Exception as exc:  # torch.load raises many types for a damaged file; none is a bug of ours
            raise ZooError(f"cannot resume from {self.last}: not a readable checkpoint "
                           f"({type(exc).__name__}: {first_line(exc)[:200]})") from None
        if not isinstance(state, dict) or not isinstance(state.get("config"), str):
            raise ZooError(f"cannot resume from {self.last}: not a zoo training checkpoint")
        return state


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
