"""Multi-fidelity promotion (zoo/search/rungs.py): a tiny search that promotes through three
rungs, resumes after an interrupt, reports each rung's front and the rank agreement; a later
session continues from the committed files alone; damaged rung records follow the reading policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="zoo search needs optuna (pip install -e '.[search]')")

from zoo.cli import main  # noqa: E402
from zoo.errors import ZooError  # noqa: E402
from zoo.search import rungs as rungs_module  # noqa: E402
from zoo.search.candidate import train_candidate  # noqa: E402
from zoo.search.pareto import crowding_distances, nondominated_ranks, promotion_order  # noqa: E402
from zoo.search.rungs import Rungs, next_promotion  # noqa: E402
from zoo.search.storage import locate  # noqa: E402

RUNGS = "8,16,32"
ARGS = ["--rungs", RUNGS, "--promote", "0.5", "--batch", "2", "--patch", "32", "--population", "4",
        "--validations", "2", "--no-early-stop", "--data", "synthraw", "--val", "synthval"]


def run(out: Path, trials: int, *extra: str) -> int:
    return main(["search", "run", "tiny", "--out", str(out), "--trials", str(trials), *ARGS, *extra, "--json"])


def load(out: Path):
    location = locate(str(out))
    study = optuna.load_study(study_name=location.study, storage=location.storage)
    return study, optuna.load_study(study_name=location.study + ":rungs", storage=location.storage)


def test_promotion_order_by_rank_then_crowding():
    # (psnr, gmacs): 0, 1, 2 on the front; 3 dominated by 1; 4 dominated by all
    points = [(30.0, 1.0), (31.0, 2.0), (32.0, 4.0), (30.5, 3.0), (29.0, 5.0)]
    assert nondominated_ranks(points, (True, False)) == [0, 0, 0, 1, 2]
    crowding = crowding_distances(points, [0, 1, 2])
    assert crowding[0] == crowding[2] == float("inf") and crowding[1] == pytest.approx(2.0)
    assert promotion_order(points, (True, False)) == [0, 2, 1, 3, 4]  # the ends (infinite crowding) first


def test_next_promotion_takes_the_highest_rung_first_and_respects_the_fraction():
    found = {t: {0: {"psnr": 30.0 + t, "gmacs": 1.0}} for t in range(6)}  # equal cost: 5 best, then 4, 3
    rungs = Rungs((10, 20, 40), 0.5)
    assert next_promotion(found, set(), rungs) == (5, 1)
    assert next_promotion(found, {(5, 1), (4, 1), (3, 1)}, rungs) is None  # 3 of 6 promoted
    found[5][1] = {"psnr": 40.0, "gmacs": 1.0}
    found[4][1] = {"psnr": 39.0, "gmacs": 1.0}
    # rung 1 holds two: one of them (the better) goes on, before rung 0's third
    assert next_promotion(found, {(5, 1), (4, 1)}, rungs) == (5, 2)


def test_tiny_search_promotes_resumes_and_reports(tmp_path, capsys, monkeypatch):
    out = tmp_path / "search"
    # interrupted in its first promotion (as Ctrl-C would): the promotion is enqueued again
    original = rungs_module.Promoter.train
    calls = {"n": 0}

    def interrupted(self, trial):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return original(self, trial)

    monkeypatch.setattr(rungs_module.Promoter, "train", interrupted)
    assert run(out, 4) == 130  # zoo's exit status for an interrupt
    capsys.readouterr()
    study, rung_study = load(out)
    states = sorted(t.state.name for t in rung_study.trials)
    assert states == ["FAIL", "WAITING"]  # the interrupted one and its retry
    assert run(out, 4) == 0  # the same command resumes: the retry first, then on to the end
    status = json.loads(capsys.readouterr().out)
    study, rung_study = load(out)
    levels = status["rungs"]["rungs"]
    assert [lv["steps"] for lv in levels] == [8, 16, 32]
    trained0 = levels[0]["trained"]
    assert trained0 >= 4 and levels[1]["trained"] == trained0 // 2 and levels[2]["trained"] == trained0 // 4
    assert len(levels[0]["promoted"]) == trained0 // 2 and levels[2]["front"]
    done = [t for t in rung_study.trials if t.state.name == "COMPLETE"]
    assert {t.user_attrs["steps"] for t in done} == {16, 32}
    for t in done:  # each promotion resumed from its candidate's checkpoint at the rung before
        assert t.user_attrs["resumed_from"] == {16: 8, 32: 16}[t.user_attrs["steps"]]
        assert t.user_attrs["curve"][-1][0] == t.user_attrs["steps"]
    retried = [t for t in rung_study.trials if t.system_attrs.get("failed_trial") is not None]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    # what a later session needs: results and one rung checkpoint per candidate, no run folders
    kept = sorted(p.name for p in (out / "candidates").glob("*/weights-*.safetensors"))
    assert kept and all(p.endswith(("-8.safetensors", "-16.safetensors", "-32.safetensors")) for p in kept)
    assert len(kept) == len(list((out / "candidates").iterdir()))
    assert "candidates/*/run/" in (out / ".gitignore").read_text()

    assert main(["search", "report", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rungs"]["rungs"][2]["front"]
    rows = summary["agreement"]["rows"]
    assert [r["name"] for r in rows] == ["rung 0 (8 steps)", "power law fitted up to rung 0",
                                         "rung 1 (16 steps)", "power law fitted up to rung 1"]
    assert summary["agreement"]["criterion"] == "lower" and summary["agreement"]["threshold"] == 0.6
    assert "## Rank agreement" in (out / "report" / "rungs.md").read_text()
    assert main(["search", "status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "rung 2 (32 steps)" in text and "promoted" in text

    # export judges by the longest rung: the knee is on rung 2's front, with its PSNR there
    scores = summary["rungs"]["results"]
    assert main(["search", "export", str(out), "--knee", "--name", "k", "-o", str(tmp_path / "k.json"), "--json"]) == 0
    provenance = json.loads(capsys.readouterr().out)["provenance"]
    assert provenance["trial"] in {p["trial"] for p in levels[2]["front"]} and provenance["steps"] == 32
    assert provenance["values"]["psnr"] == pytest.approx(scores[str(provenance["trial"])]["2"]["psnr"])
    left = next(int(t) for t, r in scores.items() if list(r) == ["0"])  # never promoted
    assert main(["search", "export", str(out), "--trial", str(left), "--name", "f", "-o", str(tmp_path / "f.json")]) == 0
    assert f"trial {left}, {scores[str(left)]['0']['psnr']:.2f} dB after 8 steps" in capsys.readouterr().out


def test_a_later_session_continues_from_the_committed_files(tmp_path, capsys):
    out = tmp_path / "search"
    assert run(out, 4) == 0
    capsys.readouterr()
    # another session: only what .gitignore lets through came along
    later = tmp_path / "later"
    shutil.copytree(out, later, ignore=shutil.ignore_patterns("run", "heartbeats", "*.lock", ".lock"))
    assert not list(later.glob("candidates/*/run"))
    assert run(later, 6) == 0  # two more candidates; their promotions, and those they make due
    status = json.loads(capsys.readouterr().out)
    _, rung_study = load(later)
    levels = status["rungs"]["rungs"]
    # ASHA: a rung's best fraction changes as candidates come; an earlier promotion stays made
    assert levels[0]["trained"] >= 6 and levels[1]["trained"] >= levels[0]["trained"] // 2
    assert not [t for t in rung_study.trials if t.state.name == "FAIL"]
    for t in rung_study.trials:  # a first-session candidate promoted now restarts from its rung checkpoint
        if t.user_attrs.get("restarted"):
            assert t.user_attrs["resumed_from"] == {16: 8, 32: 16}[t.user_attrs["steps"]]


def test_promotion_restarts_from_the_rung_checkpoint_without_the_run_folder(tmp_path):
    from zoo.search.candidate import Proxy

    proxy = Proxy(steps=8, batch=2, patch=32, validations=2, data=["synthraw"], val="synthval")
    config = {"in_channels": 1, "widths": [4, 4, 4], "act": "relu",
              "groups": [{"block": "residual", "depth": 1, "tail": False, "options": {}}] * 5}
    folder = tmp_path / "cand"
    train_candidate(folder, config, proxy, None, keep_weights=True)
    shutil.rmtree(folder / "run")  # another session: the committed result and weights only
    result = train_candidate(folder, config, proxy, None, steps=16, previous=8, keep_weights=True)
    assert result.restarted and result.resumed_from == 8 and result.steps == 16
    assert [p[0] for p in result.curve] == [4, 8, 12, 16]  # the first rung's validations kept
    assert sorted(p.name for p in folder.glob("weights-*")) == ["weights-16.safetensors"]
    assert (folder / "result-16.json").is_file()


def test_damaged_rung_checkpoint_and_result(tmp_path):
    from zoo.search.candidate import Proxy

    proxy = Proxy(steps=8, batch=2, patch=32, validations=2, data=["synthraw"], val="synthval")
    config = {"in_channels": 1, "widths": [4, 4, 4], "act": "relu",
              "groups": [{"block": "residual", "depth": 1, "tail": False, "options": {}}] * 5}
    folder = tmp_path / "cand"
    first = train_candidate(folder, config, proxy, None, keep_weights=True)
    assert (folder / "weights-8.safetensors").is_file() and first.steps == 8
    shutil.rmtree(folder / "run")  # another session
    (folder / "weights-8.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ZooError, match="weights"):  # one line, nothing trained from garbage
        train_candidate(folder, config, proxy, None, steps=16, previous=8, keep_weights=True)
    (folder / "result.json").write_text('{"psnr": "high"}')
    with pytest.warns(RuntimeWarning, match="result"):  # the reading policy: a warning, then made again
        with pytest.raises(ZooError, match="cannot be promoted"):
            train_candidate(folder, config, proxy, None, steps=16, previous=8, keep_weights=True)


def test_bad_rung_settings_are_one_line(tmp_path, capsys):
    for rungs, message in (("8", "at least two"), ("16,8", "increasing"), ("8,x", "step counts")):
        code = main(["search", "run", "tiny", "--out", str(tmp_path / "s"), "--rungs", rungs])
        assert code != 0 and message in capsys.readouterr().err
    code = main(["search", "run", "tiny", "--out", str(tmp_path / "s"), "--rungs", "8,16", "--promote", "1.5"])
    assert code != 0 and "--promote" in capsys.readouterr().err
