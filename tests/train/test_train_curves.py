"""What a run shows (issue 18): curves.png with the noisy input's PSNR, the learning rate, whole
steps, a lone point and a note without validation; the noisy input's scores recorded at the
first validation; TensorBoard as a declared extra; the distill table's noisy-input row."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import zoo
from zoo.cli import main
from zoo.train.curves import draw_curves
from zoo.train.distill import format_results
from zoo.train.runfolder import LOG_FIELDS, RunFolder, RunLog

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--config", '{"widths": [8, 8, 8], "depth": 1}', "--batch", "2", "--patch", "32"]


def folder(tmp_path: Path, rows: list[dict], validation: dict | None = None) -> RunFolder:
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.write_log([{k: row.get(k, "") for k in LOG_FIELDS} for row in rows])
    if validation is not None:
        run.write_validation(validation)
    return run


def panels(run: RunFolder):
    fig = draw_curves(run)
    try:
        loss, val, lr = fig.axes[:3]
        yield loss, val, lr
    finally:
        plt.close(fig)


def whole_ticks(axes) -> bool:
    lo, hi = axes.get_xlim()
    ticks = [t for t in axes.get_xticks() if lo <= t <= hi]
    return len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)


def test_the_curves_show_the_noisy_line_the_rate_and_whole_steps(tmp_path):
    rows = [{"step": 10, "lr": 2e-4, "loss": 0.06}, {"step": 20, "lr": 1e-4, "loss": 0.05, "val_psnr": 28.5},
            {"step": 30, "lr": 1e-6, "loss": 0.04, "val_psnr": 29.0}]
    for loss, val, lr in panels(folder(tmp_path, rows, {"val": "synthval", "noisy_psnr": 31.25})):
        horizontal = [line for line in val.get_lines() if len(set(line.get_ydata())) == 1]
        assert [line.get_ydata()[0] for line in horizontal] == [31.25]  # the level the network must beat
        assert "noisy input (31.25 dB)" in [t.get_text() for t in val.get_legend().get_texts()]
        assert list(lr.get_lines()[0].get_ydata()) == [2e-4, 1e-4, 1e-6]
        assert lr.get_title() == "learning rate"
        assert all(whole_ticks(axes) for axes in (loss, val, lr))


def test_a_one_step_run_draws_its_point_and_says_it_has_no_validation(tmp_path):
    for loss, val, lr in panels(folder(tmp_path, [{"step": 1, "lr": 2e-4, "loss": 0.07}])):
        assert loss.get_lines()[0].get_marker() == "o" and lr.get_lines()[0].get_marker() == "o"
        assert any("no validation" in t.get_text() for t in val.texts)
        assert not val.get_lines()
        assert all(whole_ticks(axes) for axes in (loss, val, lr))


def test_a_run_records_its_noisy_input_at_the_first_validation_and_draws_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["train", "mwrcanet", *TINY, "--val", "synthval", "--steps", "2", "--val-every", "1",
                 "--out", str(out)]) == 0
    recorded = json.loads((out / "validation.json").read_text())
    pairs = zoo.data.sets.load_set("synthval")
    noisy = np.mean([zoo.metrics.psnr(p.noisy, p.clean, data_range=1.0) for p in pairs])
    assert recorded["val"] == "synthval" and recorded["noisy_psnr"] == pytest.approx(noisy)
    assert 0 < recorded["noisy_ssim"] <= 1
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for _, val, _ in panels(RunFolder(out)):
        assert any(list(line.get_ydata()) == [pytest.approx(noisy)] * 2 for line in val.get_lines())


def test_a_run_without_validation_writes_no_noisy_record(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["train", "mwrcanet", *TINY, "--val", "none", "--steps", "1", "--out", str(out)]) == 0
    assert not (out / "validation.json").exists() and (out / "curves.png").is_file()


def test_tensorboard_is_a_declared_extra_without_torch(tmp_path, monkeypatch):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [r.split(">")[0] for r in extras["tensorboard"]] == ["tensorboard"]

    written = []

    class Writer:  # torch.utils.tensorboard.SummaryWriter's part that RunLog uses
        def __init__(self, logdir):
            written.append(("dir", logdir))

        def add_scalar(self, key, value, step):
            written.append((key, value, step))

        def close(self):
            written.append(("closed",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=Writer))
    run = RunFolder(tmp_path)
    log = RunLog(run, start=0)
    log.add({"step": 10, "lr": 1e-4, "loss": 0.5, "val_psnr": "", "val_ssim": "", "seconds": 1})
    log.close()
    assert written == [("dir", str(tmp_path / "tensorboard")), ("loss", 0.5, 10), ("lr", 1e-4, 10), ("closed",)]


def test_the_distill_table_opens_with_the_noisy_input():
    step = {"psnr": 35.0, "ssim": 0.9, "psnr_x8": 35.2, "noisy_psnr": 32.02, "noisy_ssim": 0.876}
    results = {"step1": {"label": "step one (mwresnet)", **step}, "step2": {"label": "step two (mwrcanet)", **step}}
    lines = format_results(results).splitlines()
    assert lines[2].split() == ["noisy", "input", "32.02", "0.8760", "-"]
    assert lines[3].startswith("step one") and len(lines) == 5
    old = {"step1": {"label": "step one", "psnr": 35.0, "ssim": 0.9, "psnr_x8": 35.2}}  # an older zoo's results
    assert len(format_results(old).splitlines()) == 3
