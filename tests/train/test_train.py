"""`zoo train`: exact resumption after SIGKILL, two DDP ranks in step, validation, the schedule."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from torch import nn
from safetensors.torch import load_file

import zoo
from zoo.cli import main
from zoo.train.trainer import EMA, TrainConfig, lr_factor

TINY = ["--config", '{"widths": [8, 8, 8], "depth": 1}', "--batch", "2", "--patch", "32", "--val", "none"]


def zoo_train(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "zoo", "train", "mwrcanet", *TINY, "--out", str(out), *extra]


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "ZOO_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}


def same_weights(a: Path, b: Path) -> bool:
    first, second = load_file(a), load_file(b)
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_a_run_killed_part_way_resumes_to_the_same_weights(tmp_path):
    env = environment(tmp_path)
    steps = ["--steps", "80", "--checkpoint-every", "5"]
    subprocess.run(zoo_train(tmp_path / "whole", *steps), env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(zoo_train(killed, *steps), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "last.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "final.safetensors").exists()
    done_at_kill = torch.load(killed / "last.pt", weights_only=True)["step"]
    assert 5 <= done_at_kill < 80

    subprocess.run(zoo_train(killed, *steps, "--resume"), env=env, check=True, capture_output=True)
    assert same_weights(tmp_path / "whole" / "final.safetensors", killed / "final.safetensors")
    whole, resumed = (torch.load(p / "last.pt", weights_only=True) for p in (tmp_path / "whole", killed))
    assert all(torch.equal(whole["model"][k], resumed["model"][k]) for k in whole["model"])
    steps_logged = [int(line.split(",")[0]) for line in (killed / "log.csv").read_text().splitlines()[1:]]
    assert steps_logged == sorted(set(steps_logged)) and steps_logged[-1] == 80  # no row twice
    # The log reads as the uninterrupted run's (a row's loss is the mean since the row before it,
    # across the kill; its rate is the one its step ran at); only the wall-clock column differs.
    whole_log, resumed_log = ([line.rsplit(",", 1)[0] for line in (p / "log.csv").read_text().splitlines()]
                              for p in (tmp_path / "whole", killed))
    assert resumed_log == whole_log
    cfg = TrainConfig(model="mwrcanet", out="", steps=80, warmup=8)
    assert float(whole_log[-1].split(",")[1]) == pytest.approx(cfg.lr * lr_factor(79, cfg))


@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun not installed")
def test_two_ranks_on_cpu_stay_in_step(tmp_path):
    torchrun = str(Path(sys.executable).parent / "torchrun")
    env = environment(tmp_path)
    args = [*TINY, "--steps", "6", "--checkpoint-every", "2"]
    result = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", "-m", "zoo", "train", "mwrcanet", *args,
                             "--out", str(tmp_path / "ddp")], env=env, capture_output=True, text=True)
    # Each checkpoint compares the ranks' weights and fails the run if they differ.
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning" not in result.stderr.replace("OMP_NUM_THREADS", "")
    subprocess.run([sys.executable, "-m", "zoo", "train", "mwrcanet", *args, "--out", str(tmp_path / "one")],
                   env=env, check=True, capture_output=True)
    # Two ranks average the gradients of two different batches: not the single-process run.
    assert not same_weights(tmp_path / "ddp" / "final.safetensors", tmp_path / "one" / "final.safetensors")
    assert len((tmp_path / "ddp" / "log.csv").read_text().splitlines()) == 2  # rank 0 alone logs


def test_validation_best_checkpoint_log_and_curves(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    args = ["train", "mwrcanet", *TINY[:-2], "--val", "synthval", "--steps", "20", "--val-every", "10",
            "--checkpoint-every", "10", "--warmup", "5", "--out", str(out)]
    assert main(args) == 0
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0] == "step,lr,loss,val_psnr,val_ssim,seconds" and len(rows) == 3
    val_psnr = [float(r.split(",")[3]) for r in rows[1:]]
    best = zoo.load(out / "best.safetensors")  # a zoo model file, rebuilt from the file alone
    assert best.zoo_config["widths"] == [8, 8, 8]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pair = zoo.data.sets.load_set("synthval")[0]
    assert max(val_psnr) > zoo.metrics.psnr(pair.noisy, pair.clean, data_range=1.0) - 20  # a number, in range

    assert main(args) == 2  # the run exists: refuse to overwrite it
    assert "use --resume" in capsys.readouterr().err
    assert main([*args[:-2], "--batch", "4", "--out", str(out), "--resume"]) == 2
    assert "different batch" in capsys.readouterr().err


def test_ema_starts_with_a_short_memory_from_scratch_and_a_full_one_when_fine_tuning():
    model = nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(1.0)
    from_scratch, fine_tuning = EMA(model, 0.99), EMA(model, 0.99, short_start=False)
    model.weight.data.fill_(0.0)
    from_scratch.update(model, 0)
    fine_tuning.update(model, 0)
    assert from_scratch.shadow["weight"].item() == pytest.approx(0.1)  # 1 - (1 + 0) / (10 + 0)
    assert fine_tuning.shadow["weight"].item() == pytest.approx(0.99)  # the trained weights dominate


def test_warm_up_then_cosine_to_the_floor():
    cfg = TrainConfig(model="m", out="o", steps=1000, warmup=100, lr=1e-3, min_lr=1e-5)
    assert lr_factor(0, cfg) == pytest.approx(0.01) and lr_factor(99, cfg) == pytest.approx(1.0)
    assert lr_factor(550, cfg) == pytest.approx(0.01 + 0.99 * 0.5, rel=1e-6)
    assert lr_factor(1000, cfg) == pytest.approx(0.01)
    assert all(lr_factor(s, cfg) >= lr_factor(s + 1, cfg) for s in range(100, 1000))


def test_distill_runs_four_steps_records_each_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    tiny = '{"widths": [8, 8, 8], "depth": 1}'
    args = ["distill", "--original-config", tiny, "--siamese-config", tiny, "--steps", "4,4,2,2", "--batch", "2",
            "--patch", "32", "--finetune-patch", "64", "--finetune-batch", "1", "--val", "none",
            "--out", str(tmp_path / "d"), "--json"]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)
    assert [k for k in results if k != "final_weights"] == ["step1", "step2", "average", "step3", "step4"]
    pairs = zoo.data.sets.load_set("synthraw")
    final = zoo.load(results["final_weights"])
    expected = np.mean([zoo.metrics.psnr(zoo.denoise(final, p.noisy), p.clean, data_range=1.0) for p in pairs])
    assert results["step4"]["psnr"] == pytest.approx(expected)
    ensembled = np.mean([zoo.metrics.psnr(zoo.denoise(final, p.noisy, ensemble=True), p.clean, data_range=1.0)
                         for p in pairs])
    assert results["step4"]["psnr_x8"] == pytest.approx(ensembled) and ensembled != expected
    for step in ("step1-original", "step2-siamese", "step3-original", "step3-siamese", "step4-siamese"):
        assert (tmp_path / "d" / step / "final.safetensors").is_file()
        config = json.loads((tmp_path / "d" / step / "config.json").read_text())
        fine_tuning = step.startswith(("step3", "step4"))
        assert (config["patch"], config["batch"]) == ((64, 1) if fine_tuning else (32, 2))
        assert config["ema"] == (0.99 if fine_tuning else 0.999)
    before = (tmp_path / "d" / "step4-siamese" / "final.safetensors").stat().st_mtime_ns
    assert main(args) == 0  # everything done: nothing is trained again
    assert json.loads(capsys.readouterr().out) == results
    assert (tmp_path / "d" / "step4-siamese" / "final.safetensors").stat().st_mtime_ns == before


def test_pseudo_labels_are_kept_and_made_again_when_their_origin_changes(tmp_path, monkeypatch):
    from zoo.data.pairs import Pair
    from zoo.train.distill import DistillConfig, Pipeline

    pipeline = Pipeline(DistillConfig(out=str(tmp_path)))
    noisy = [Pair("a", np.zeros((16, 16), np.float32), np.zeros((16, 16), np.float32), raw=True)]
    made = []
    value = {"now": 0.25}

    def average(weights, pairs, name, ensemble):
        made.append(value["now"])
        return [np.full((16, 16), value["now"], np.float32)]

    monkeypatch.setattr(pipeline, "_average", average)
    weights = tmp_path / "final.safetensors"
    weights.write_bytes(b"first training")
    first = pipeline._pseudo_pairs("p", noisy, (weights,))
    value["now"] = 0.5
    again = pipeline._pseudo_pairs("p", noisy, (weights,))  # resumed: the same labels
    assert made == [0.25] and again.pairs[0].clean[0, 0] == first.pairs[0].clean[0, 0] == 0.25
    weights.write_bytes(b"the step trained again")  # same path, new weights
    with pytest.warns(RuntimeWarning, match="other weights"):
        changed = pipeline._pseudo_pairs("p", noisy, (weights,))
    assert made == [0.25, 0.5] and changed.pairs[0].clean[0, 0] == 0.5


def test_a_step_trained_again_is_scored_again(tmp_path, monkeypatch):
    from zoo.data.pairs import Pair
    from zoo.train.distill import DistillConfig, Pipeline

    pipeline = Pipeline(DistillConfig(out=str(tmp_path)))
    clean = np.full((16, 16), 0.5, np.float32)
    pipeline.test = [Pair("a", clean + 0.1, clean, raw=True)]
    denoised = {"now": clean + 0.01}
    monkeypatch.setattr(pipeline, "_average", lambda weights, pairs, name, ensemble: [denoised["now"]])
    weights = tmp_path / "final.safetensors"
    weights.write_bytes(b"first training")
    pipeline._record("step1", "step one", (weights,))
    first = json.loads((tmp_path / "results.json").read_text())["step1"]["psnr"]
    denoised["now"] = clean + 0.001
    pipeline._record("step1", "step one", (weights,))  # resumed, same weights: the score is kept
    assert json.loads((tmp_path / "results.json").read_text())["step1"]["psnr"] == first == pytest.approx(40.0, abs=1e-3)
    weights.write_bytes(b"the step trained again")
    pipeline._record("step1", "step one", (weights,))
    assert json.loads((tmp_path / "results.json").read_text())["step1"]["psnr"] == pytest.approx(60.0, abs=1e-3)


@pytest.mark.parametrize("step4_share", [1.0, 0.4])
def test_distill_steps_three_and_four_draw_their_shares_from_the_pseudo_labels(tmp_path, monkeypatch, step4_share):
    from zoo.data.patches import Mixture
    from zoo.train.distill import DistillConfig, Pipeline

    pipeline = Pipeline(DistillConfig(out=str(tmp_path), pseudo_share=0.25, step4_pseudo_share=step4_share))
    sources, labels = {}, {}

    def train(folder, source=None):
        sources[folder] = source
        return tmp_path / folder / "final.safetensors"

    monkeypatch.setattr(pipeline, "_train", train)
    monkeypatch.setattr(pipeline, "_record", lambda *args: None)
    monkeypatch.setattr(pipeline, "_pseudo_pairs", lambda name, pairs, made_by: labels.setdefault(name, SimpleNamespace(channels=1)))
    pipeline.run()
    step3 = sources["step3-siamese"]
    assert isinstance(step3, Mixture) and step3.sources[-1] is labels["pseudo-step3"]
    assert step3.weights[-1] == pytest.approx(0.25)
    step4 = sources["step4-siamese"]
    if step4_share == 1:
        assert step4 is labels["pseudo-step4"]  # the noisy images alone, against both networks' outputs
    else:
        assert isinstance(step4, Mixture) and step4.sources[-1] is labels["pseudo-step4"]
        assert step4.weights[-1] == pytest.approx(step4_share)


def write_rgb_pairs(folder: Path, count: int = 2, side: int = 48) -> None:
    rng = np.random.default_rng(0)
    for kind in ("noisy", "gt"):
        (folder / kind).mkdir(parents=True)
    for i in range(count):
        clean = rng.random((side, side, 3))
        for kind, image in (("gt", clean), ("noisy", np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1))):
            cv2.imwrite(str(folder / kind / f"{i}.png"), np.round(image[..., ::-1] * 255).astype(np.uint8))


def test_an_srgb_model_trains_on_pairs_and_validates_on_srgb_blocks_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    write_rgb_pairs(tmp_path / "prs")
    out = tmp_path / "run"
    config = '{"in_channels": 3, "widths": [8, 8, 8], "depth": 1}'
    # "~" as the shell leaves it inside "pairs:~/...".
    assert main(["train", "mwrcanet", "--config", config, "--data", "pairs:~/prs", "--batch", "1", "--patch", "32",
                 "--steps", "2", "--val-every", "2", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["val"] == "synthval-srgb"
    assert float((out / "log.csv").read_text().splitlines()[-1].split(",")[3]) > 10  # validated on sRGB blocks


@pytest.mark.parametrize("extra, message", [
    (["--lr", "0"], "lr must be positive"),
    (["--warmup", "9"], "warmup must be between 0 and steps"),
    (["--data", "pairs:PRS"], "the model takes 1-channel images, the training data has 3"),
    (["--data", "synthraw", "--data", "pairs:PRS"], "cannot be mixed"),
    (["--val", "synthval-srgb"], "the validation data synthval-srgb has 3"),
    (["--out", "FILE/run"], "cannot make the run folder"),
])
def test_training_mistakes_are_one_line_before_any_step(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    write_rgb_pairs(tmp_path / "prs", count=1)
    (tmp_path / "file").write_text("")
    extra = [a.replace("PRS", str(tmp_path / "prs")).replace("FILE", str(tmp_path / "file")) for a in extra]
    out = ["--out", str(tmp_path / "run")] if "--out" not in extra else []
    args = ["train", "mwrcanet", *TINY[:-2], "--steps", "4", *out, *extra]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "run" / "last.pt").exists()


def test_the_default_warm_up_and_floor_fit_short_runs_and_small_rates():
    short = TrainConfig(model="m", out="o", steps=50, lr=5e-7)
    short.check()  # neither the 100-step warm-up nor the 1e-6 floor refuses it
    assert short.warmup_steps == 5 and lr_factor(49, short) == pytest.approx(1.0, abs=1e-3)
    assert TrainConfig(model="m", out="o", steps=5000).warmup_steps == 100


def test_resuming_with_another_ema_clip_or_starting_point_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "mwrcanet", *TINY, "--steps", "4", "--checkpoint-every", "2", "--out", str(out)]
    assert main(args) == 0
    for extra in (["--ema", "0.5"], ["--clip", "0"]):
        assert main([*args, "--resume", *extra]) == 2
        assert f"different {extra[0][2:]} (the run has " in capsys.readouterr().err
    assert main([*args, "--resume", "--warmup", "3"]) == 2  # the run's own: none, a tenth of 4 steps
    assert "different warmup (the run has 0, now 3)" in capsys.readouterr().err
    zoo.save(zoo.create_model("mwrcanet", widths=[8, 8, 8], depth=1), tmp_path / "w.safetensors")
    assert main([*args, "--resume", "--weights", str(tmp_path / "w.safetensors")]) == 2
    assert "different weights" in capsys.readouterr().err


TINY_DISTILL = ["--original-config", '{"widths": [8, 8, 8], "depth": 1}', "--siamese-config", '{"widths": [8, 8, 8], "depth": 1}',
                "--steps", "2,2,1,1", "--batch", "2", "--patch", "32", "--finetune-patch", "64", "--finetune-batch", "1",
                "--val", "none", "--json"]


def test_distill_refuses_other_settings_on_a_run_and_rescores_on_another_test_set(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    out = ["--out", str(tmp_path / "d")]
    assert main(["distill", *TINY_DISTILL, *out]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["distill", *TINY_DISTILL, "--steps", "3,2,1,1", *out]) == 2
    assert "other settings (steps)" in capsys.readouterr().err
    # Scoring a finished run on another set is not a change to its training: scored afresh.
    assert main(["distill", *TINY_DISTILL, "--test", "synthval", *out]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["step1"]["test"] == "synthval" and again["step1"]["psnr"] != first["step1"]["psnr"]
    assert again["step1"]["weights"] == first["step1"]["weights"]  # nothing trained again

    # A finished step copied into a new run folder counts only if it was trained the same way.
    shutil.copytree(tmp_path / "d" / "step1-original", tmp_path / "e" / "step1-original")
    assert main(["distill", *TINY_DISTILL, "--lrs", "1e-3,2e-4,5e-5,5e-5", "--out", str(tmp_path / "e")]) == 2
    assert "step1-original was trained with other settings: lr (the run has 0.0002, now 0.001)" in capsys.readouterr().err
    (tmp_path / "e" / "step1-original" / "config.json").unlink()
    assert main(["distill", *TINY_DISTILL, "--out", str(tmp_path / "e")]) == 2
    assert "has final weights but no config.json" in capsys.readouterr().err

    # A folder written before a setting existed: the setting had its default then.
    config = json.loads((tmp_path / "d" / "config.json").read_text())
    del config["step4_pseudo_share"]
    (tmp_path / "d" / "config.json").write_text(json.dumps(config))
    assert main(["distill", *TINY_DISTILL, "--test", "synthval", *out]) == 0
    assert json.loads(capsys.readouterr().out) == again


@pytest.mark.parametrize("extra, message", [
    (["--finetune-patch", "100"], "patch must be a multiple of 8"),
    (["--finetune-patch", "512"], "smaller than the 512-pixel fine-tuning patch"),
    (["--original-config", "[1]"], "--original-config must be a JSON object"),
    (["--pseudo-from", "synthsrgb"], "mwresnet takes 1-channel images; these have others: --pseudo-from (3)"),
    (["--test", "synthval-srgb"], "these have others: --test (3)"),
])
def test_distill_mistakes_fail_before_step_one_trains(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["distill", *TINY_DISTILL, *extra, "--out", str(tmp_path / "d")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "d" / "step1-original").exists()


def test_sidd_medium_patches_are_windows_read_from_the_files(tmp_path, monkeypatch):
    from tests.data.test_sidd import scene, write_v5

    from zoo.data import sidd
    from zoo.data.patches import PairPatches, ScenePatches
    from zoo.data.specs import open_source

    rng = np.random.default_rng(3)
    for number, shape in (("0001", (40, 56)), ("0002", (48, 36))):
        clean = rng.random(shape)
        scene(tmp_path / "medium", f"{number}_001_S6_00100_00060_3200_L", number,
              np.clip(clean + rng.normal(0, 0.03, shape), 0, 1), clean)
    source = open_source(f"sidd-medium:{tmp_path / 'medium'}")
    assert isinstance(source, ScenePatches)
    # The very patches a crop of the whole images gives, for the same draws.
    whole = PairPatches(sidd.load_sidd_medium(tmp_path / "medium"), mosaic=True)
    for seed in range(6):
        got, expected = source.sample(np.random.default_rng(seed), 16), whole.sample(np.random.default_rng(seed), 16)
        assert all(np.array_equal(a, b) and a.dtype == np.float32 for a, b in zip(got, expected))

    read = sidd.read_mat_array

    def windows_only(file, variable, layout=None, window=None):
        assert window is not None and window[2:] == (16, 16), "a whole image was read"
        return read(file, variable, layout, window)

    monkeypatch.setattr(sidd, "read_mat_array", windows_only)
    for seed in range(6):
        source.sample(np.random.default_rng(seed), 16)
    # MATLAB v5 files (a re-saved scene) are read whole, then cut: the same windows.
    v5 = tmp_path / "v5" / "0003_001_S6_00100_00060_3200_L"
    v5.mkdir(parents=True)
    image = rng.random((24, 32))
    write_v5(v5 / "0003_NOISY_RAW_010.MAT", "x", image)
    write_v5(v5 / "0003_GT_RAW_010.MAT", "x", image)
    monkeypatch.setattr(sidd, "read_mat_array", read)
    noisy, _ = open_source(f"sidd-medium:{tmp_path / 'v5'}").sample(np.random.default_rng(0), 8)
    top, left = next((t, c) for t in range(0, 17, 2) for c in range(0, 25, 2)
                     if np.array_equal(noisy[0], image[t:t + 8, c:c + 8].astype(np.float32)))
    assert top % 2 == 0 and left % 2 == 0


def test_distill_refuses_a_damaged_results_file_in_one_line(tmp_path):
    from zoo.train.distill import DistillConfig, Pipeline

    (tmp_path / "results.json").write_text("garbage")
    with pytest.raises(zoo.ZooError, match="results.json is not valid JSON .*move it away") as caught:
        Pipeline(DistillConfig(out=str(tmp_path)))
    assert "\n" not in str(caught.value)
    (tmp_path / "results.json").write_text("[1]")
    with pytest.raises(zoo.ZooError, match="results.json must hold a table .*, not a list; move it away"):
        Pipeline(DistillConfig(out=str(tmp_path)))
