"""``curves.png``: a training run's log in three panels, drawn from its folder alone.

- Training loss against step (log scale).
- Validation PSNR of the EMA weights, with the noisy input's PSNR on the same set as a dashed
  line (``validation.json``): a short run can sit below it, denoising nothing yet, and the plot
  should say so. A run without validation says that in the panel instead of leaving it blank.
- The learning rate each logged step ran at: the warm-up, the cosine, an extension's restart.

Steps are whole numbers on every axis, and a curve of one logged point is drawn as a marker (a
line of one point is invisible).
"""

from __future__ import annotations

import math
from typing import Any

from zoo.fileio import atomic_path
from zoo.train.runfolder import RunFolder


def _column(rows: list[dict[str, str]], key: str) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]


def _curve(axes: Any, points: list[tuple[int, float]], **style: Any) -> None:
    if points:
        axes.plot(*zip(*points), **({"marker": "o"} if len(points) == 1 else {}), **style)


def _noisy_psnr(run: RunFolder) -> float | None:
    value = run.read_validation().get("noisy_psnr")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def draw_curves(run: RunFolder) -> Any:
    """``run``'s log as a matplotlib figure of three panels: loss, validation PSNR, learning rate
    (close it with ``matplotlib.pyplot.close``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = run.read_log()
    fig, (loss, val, lr) = plt.subplots(1, 3, figsize=(15, 3.6), sharex=True)  # one step axis
    _curve(loss, _column(rows, "loss"))
    loss.set(xlabel="step", ylabel="training loss", yscale="log", title="loss")

    scores = _column(rows, "val_psnr")
    if scores:
        val.plot(*zip(*scores), marker="o", label="EMA weights")
        noisy = _noisy_psnr(run)
        if noisy is not None:
            val.axhline(noisy, color="grey", linestyle="--", label=f"noisy input ({noisy:.2f} dB)")
        val.legend(loc="best", fontsize="small")
    else:
        val.text(0.5, 0.5, "no validation in this run\n(--val none, or no set for this model)", ha="center",
                 va="center", transform=val.transAxes, color="grey")
        val.set(yticks=[])
    val.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR")

    _curve(lr, _column(rows, "lr"))
    lr.set(xlabel="step", ylabel="learning rate", title="learning rate")
    lr.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))

    steps = [int(r["step"]) for r in rows]
    if steps and max(steps) - min(steps) < 2:  # a span under two steps would get fractional ticks
        loss.set_xlim(min(steps) - 1, max(steps) + 1)  # (shared by the three panels)
    for axes in (loss, val, lr):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def plot_curves(run: RunFolder) -> None:
    """Draw ``run``'s ``log.csv`` into ``curves.png`` (written atomically)."""
    import matplotlib.pyplot as plt

    fig = draw_curves(run)
    try:
        with atomic_path(run.curves) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
