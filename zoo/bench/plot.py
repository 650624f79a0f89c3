"""Charts of benchmark reports (PNG)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo.timing import too_wide
from zoo.fileio import atomic_path


def plot_throughput(reports: Sequence[dict[str, Any]], path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Horizontal bars of megapixels per second (the median run), one per (model, backend), with
    error bars over the middle half of the runs (their interquartile range), labelled with the
    fraction of the machine's conv peak and, past :data:`SPREAD_LIMIT`, the spread. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values, low, high, notes = [], [], [], [], []
    for report in reports:
        for r in report["backends"]:
            if r["status"] == "ok":
                labels.append(f"{report['model']} / {r['backend']}" if len(reports) > 1 else r["backend"])
                value = r["megapixels_per_s"]
                q1, q3 = r.get("megapixels_per_s_quartiles") or (value, value)  # reports from before the spread
                values.append(value)
                low.append(max(0.0, value - q1))
                high.append(max(0.0, q3 - value))
                spread = (r.get("spread") or {}).get("latency")
                flag = f", spread {100 * spread:.0f}%!" if spread is not None and too_wide(spread) else ""
                notes.append(f"{value:.3g} MP/s, {100 * r['fraction_of_peak']:.0f}% of peak{flag}")
    figure, axes = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.6))
    bars = axes.barh(labels[::-1], values[::-1], xerr=[low[::-1], high[::-1]], color="#4477aa",
                     error_kw={"ecolor": "#222222", "capsize": 3, "elinewidth": 1})
    for bar, note, extra in zip(bars, notes[::-1], high[::-1]):
        axes.text(bar.get_width() + extra, bar.get_y() + bar.get_height() / 2, " " + note, va="center", fontsize=8)
    axes.set_xlabel("throughput (megapixels per second; bars: median run, whiskers: middle half of the runs)")
    axes.set_xlim(0, max((v + h for v, h in zip(values, high)), default=1) * 1.55)
    first = reports[0]
    axes.set_title(title or f"{first['model']}, {'x'.join(map(str, first['input_shape']))}, {first['dtype']} "
                   f"- {first['machine'].get('gpu', first['machine']['cpu'])}", fontsize=9)
    figure.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
    return target
