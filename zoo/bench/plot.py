"""Charts of benchmark reports (PNG)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo.fileio import atomic_path


def plot_throughput(reports: Sequence[dict[str, Any]], path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Horizontal bars of megapixels per second, one per (model, backend), labelled with the
    fraction of the machine's conv peak. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values, notes = [], [], []
    for report in reports:
        for r in report["backends"]:
            if r["status"] == "ok":
                labels.append(f"{report['model']} / {r['backend']}" if len(reports) > 1 else r["backend"])
                values.append(r["megapixels_per_s"])
                notes.append(f"{r['megapixels_per_s']:.3g} MP/s, {100 * r['fraction_of_peak']:.0f}% of peak")
    figure, axes = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.6))
    bars = axes.barh(labels[::-1], values[::-1], color="#4477aa")
    for bar, note in zip(bars, notes[::-1]):
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + note, va="center", fontsize=8)
    axes.set_xlabel("throughput (megapixels per second)")
    axes.set_xlim(0, max(values, default=1) * 1.45)
    first = reports[0]
    axes.set_title(title or f"{first['model']}, {'x'.join(map(str, first['input_shape']))}, {first['dtype']} "
                   f"- {first['machine'].get('gpu', first['machine']['cpu'])}", fontsize=9)
    figure.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
    return target
