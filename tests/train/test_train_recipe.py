"""`zoo train --config-file` and `zoo distill --config-file`: a whole recipe in one TOML (or YAML)
file, the command line over it; model configurations from JSON files; `zoo distill --out RUN`
alone resumes a pipeline with its own settings (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.cli import build_parser, main
from zoo.cli.recipe import parse_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "docs" / "recipes"
TINY_CONFIG = {"widths": [8, 8, 8], "depth": 1}
TINY = ["--config", json.dumps(TINY_CONFIG), "--batch", "2", "--patch", "32", "--val", "none"]
TINY_DISTILL = ["--original-config", json.dumps(TINY_CONFIG), "--siamese-config", json.dumps(TINY_CONFIG),
                "--steps", "1,1,1,1", "--batch", "2", "--patch", "32", "--finetune-patch", "64",
                "--finetune-batch", "1", "--val", "none", "--no-pseudo-ensemble"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


def command_parser(name: str):
    return build_parser().parse_args([name, "--out", "x"]).command_parser


def saved(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def test_the_shipped_train_recipe_parses_and_trains_a_few_steps_with_flags_over_it(tmp_path):
    recipe = RECIPES / "train-mwrcanet.toml"
    values = parse_recipe(command_parser("train"), recipe)
    assert values["model"] == "mwrcanet" and values["config"] == {"widths": [32, 48, 64], "depth": 3}
    assert values["val_every"] == 250 and values["data"] == ["mixed-raw"]

    run = tmp_path / "run"
    assert main(["train", "--config-file", str(recipe), *TINY, "--steps", "3", "--out", str(run)]) == 0
    config = saved(run)
    assert (config["steps"], config["model_config"], config["val"]) == (3, TINY_CONFIG, None)  # the flags
    assert (config["model"], config["data"], config["loss"], config["ema"]) == ("mwrcanet", ["mixed-raw"], "l1", 0.999)
    assert (run / "final.safetensors").is_file()


def test_the_shipped_distill_recipe_parses_and_runs_then_resumes_from_out_alone(tmp_path, capsys):
    recipe = RECIPES / "distill-demo.toml"
    values = parse_recipe(command_parser("distill"), recipe)
    assert values["steps"] == (15000, 15000, 4000, 1000) and values["lrs"] == (6e-4, 6e-4, 3e-4, 1e-4)
    assert values["siamese_config"] == {"widths": [32, 48, 64], "depth": 3} and values["pseudo_ensemble"] is True
    (tmp_path / "off.toml").write_text("pseudo-ensemble = false\nsteps = \"1,1,1,1\"\n")
    assert parse_recipe(command_parser("distill"), tmp_path / "off.toml") == {"pseudo_ensemble": False,
                                                                              "steps": (1, 1, 1, 1)}

    out = tmp_path / "d"
    assert main(["distill", "--config-file", str(recipe), *TINY_DISTILL, "--out", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    config = saved(out)
    assert (config["steps"], config["batch"], config["pseudo_ensemble"]) == ([1, 1, 1, 1], 2, False)  # the flags
    assert (config["lrs"], config["original"]) == ([6e-4, 6e-4, 3e-4, 1e-4], "mwresnet")  # the file
    assert first["step4"]["noisy_psnr"] > 0

    before = (out / "step4-siamese" / "final.safetensors").stat().st_mtime_ns
    assert main(["distill", "--out", str(out)]) == 0  # its own settings: nothing trained again
    table = capsys.readouterr().out.splitlines()
    assert table[2].split()[:2] == ["noisy", "input"] and table[3].startswith("step one")
    assert (out / "step4-siamese" / "final.safetensors").stat().st_mtime_ns == before
    assert main(["distill", "--out", str(out), "--steps", "2,1,1,1"]) == 2  # still refused
    assert "other settings (steps)" in capsys.readouterr().err


def test_a_yaml_recipe_with_a_model_config_file(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "tiny.json").write_text(json.dumps(TINY_CONFIG))
    (tmp_path / "recipe.yml").write_text(
        "model: mwrcanet\nconfig: tiny.json\nbatch: 2\npatch: 32\nval: none\nsteps: 2\nlr: 5e-4\n"
        "val_every: 7\nout: run\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)  # paths in a recipe are taken from the current folder, as on the command line
        assert main(["train", "--config-file", "recipe.yml"]) == 0
    config = saved(tmp_path / "run")
    assert (config["model_config"], config["lr"], config["val_every"], config["steps"]) == (TINY_CONFIG, 5e-4, 7, 2)


def test_model_configs_from_json_files_for_train_and_distill(tmp_path, capsys):
    (tmp_path / "tiny.json").write_text(json.dumps(TINY_CONFIG))
    run = tmp_path / "run"
    args = ["train", "mwrcanet", "--config", str(tmp_path / "tiny.json"), *TINY[2:], "--steps", "1", "--out", str(run)]
    assert main(args) == 0
    assert saved(run)["model_config"] == TINY_CONFIG
    parsed = build_parser().parse_args(["distill", "--original-config", str(tmp_path / "tiny.json"), "--out", "x"])
    assert parsed.original_config == TINY_CONFIG


@pytest.mark.parametrize("text, message", [
    ('model = "mwrcanet"\nsteps = "many"\n', "steps: expected a whole number, got 'many'"),
    ('stpes = 3\n', "unknown key 'stpes'; a recipe takes the options of `zoo train`"),
    ('resume = true\n', "'resume' says how to run, not what: give --resume on the command line"),
    ('loss = "l3"\n', "loss: argument --loss: invalid choice: 'l3'"),
    ('config = [1, 2]\n', "config: expected a table (or a JSON file's path)"),
    ('steps = 3\nsteps = 4\n', "is not TOML"),
    ("[1, 2]", "is not TOML"),
])
def test_recipe_mistakes_are_one_line_naming_the_file_and_key(tmp_path, capsys, text, message):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(text)
    assert main(["train", "--config-file", str(recipe), *TINY, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(recipe) in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("config, message", [
    ("missing.json", "cannot read"),
    ("model.json", "is a model config file (it names its model): give it where the model name goes"),
    ("list.json", "a model configuration is a JSON object"),
    ('{"widths": [8,', "is not valid JSON"),
    ("[1]", "--config must be a JSON object"),
])
def test_model_config_mistakes_are_one_line(tmp_path, capsys, config, message):
    (tmp_path / "model.json").write_text(json.dumps({"format": "zoo-model-config/1", "name": "x", "model": "mwnet",
                                                     "config": {}}))
    (tmp_path / "list.json").write_text("[1, 2]")
    config = str(tmp_path / config) if config.endswith(".json") else config
    assert main(["train", "mwrcanet", "--config", config, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_recipe_file_is_one_line(tmp_path, capsys):
    assert main(["distill", "--config-file", str(tmp_path / "no.toml"), "--out", str(tmp_path / "d")]) == 2
    assert "cannot read the recipe file" in capsys.readouterr().err


def test_review_findings_are_one_line_or_work(tmp_path, capsys):
    """Found by review: YAML exponent lists, dates, deep nesting, a value that looks like a flag,
    one key spelled twice."""
    from zoo.cli import main

    pytest.importorskip("yaml")
    cases = {
        "date.yaml": ("config: {a: 2024-01-01}\n", "plain values"),
        "deep.toml": ("a = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        "help.toml": ('model = "-h"\n', "expected a name"),
        "twice.toml": ("val-every = 1\nval_every = 7\n", "given twice"),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        code = main(["train", "mwrcanet", "--config-file", str(tmp_path / name), "--out", str(tmp_path / "run")]
                    if name != "help.toml" else ["train", "--config-file", str(tmp_path / name), "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert code == 2 and expected in err and "Traceback" not in err, (name, err)
    from zoo.cli import build_parser
    from zoo.cli.recipe import parse_recipe, suppress_defaults

    parser = build_parser()._subparsers._group_actions[0].choices["distill"]
    suppress_defaults(parser)  # as the command does: only what the file sets comes back
    (tmp_path / "lrs.yaml").write_text("lrs: [1e-4, 1e-4, 1e-4, 5e-5]\n")  # YAML reads 1e-4 as a string
    assert parse_recipe(parser, tmp_path / "lrs.yaml")["lrs"] == (1e-4, 1e-4, 1e-4, 5e-5)
