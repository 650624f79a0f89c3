"""The command line: tables, --json, --help everywhere, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

import zoo
from zoo.cli import build_parser, main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_every_model_with_counted_size_and_cost(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(rows) == {"mwdensenet", "mwnet", "mwrcanet", "mwrcanet-demo", "mwrcanet-srgb-demo", "mwresnet", "mwresnet-demo"}
    assert rows["mwrcanet"][1:6] == ["27.22", "2626.2", "1", "zoo-denoise", "ok"]  # 172.1 GMACs / 0.065536 MP
    assert rows["mwresnet"][1:3] == ["25.53", "1846.5"]


def test_list_and_info_build_the_demo_models_without_a_warning(capsys):
    # Counting happens on meta tensors: the shipped weights are not copied in, so nothing warns.
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for args in (["list"], ["info", "mwrcanet-demo"]):
            code, _, err = run(capsys, *args)
            assert code == 0 and err == ""


def test_list_json_and_pattern(capsys):
    code, out, _ = run(capsys, "list", "mwr*net", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["mwrcanet", "mwresnet"]
    assert rows[0]["parameters"] == 27_215_965 and rows[0]["in_channels"] == 1
    assert rows[0]["gmacs_per_megapixel"] == pytest.approx(2626.2, abs=0.1)


def test_list_blocks(capsys):
    code, out, _ = run(capsys, "list", "--blocks", "--json")
    assert code == 0
    assert {r["name"]: r["status"] for r in json.loads(out)} == {"dense": "ok", "rcab": "ok", "residual": "ok"}


def test_info_shows_config_and_stages(capsys):
    code, out, _ = run(capsys, "info", "mwrcanet", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["config"] == {"in_channels": 1, "widths": [96, 128, 128], "depth": 20, "noise_map": False}
    assert [s["name"] for s in info["stages"]] == ["head", "down1", "down2", "down3", "middle", "up1", "up2", "up3", "tail"]
    assert sum(s["parameters"] for s in info["stages"]) == info["parameters"] == 27_215_965
    assert info["stages"][-1]["output_shape"] == [1, 1, 256, 256]
    assert info["gmacs"] == pytest.approx(172.1, abs=0.1)


def test_info_reads_the_config_from_a_weights_file(capsys, tmp_path):
    path = zoo.save(zoo.create_model("mwresnet", widths=(8, 16, 16), depth=1), tmp_path / "w.safetensors")
    code, out, _ = run(capsys, "info", "mwresnet", "--weights", str(path), "--json")
    assert code == 0
    assert json.loads(out)["config"]["widths"] == [8, 16, 16]


@pytest.mark.parametrize(
    "args, message",
    [
        (["info", "mwrcanett"], "unknown model 'mwrcanett'; did you mean 'mwrcanet'"),
        (["info", "mwrcanet", "--weights", "/nonexistent.safetensors"], "weights file not found"),
        (["info", "mwrcanet", "--size", "0"], "--size must be positive"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("zoo: error: ") and message in err


def test_bad_weights_file_through_the_real_console_script(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint at all")
    result = subprocess.run([sys.executable, "-m", "zoo", "info", "mwresnet", "--weights", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("zoo: error: cannot read weights file") and "Traceback" not in result.stderr


def test_help_everywhere():
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    assert {"list", "info"} <= set(subcommands)
    for name in [None, *subcommands]:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"] if name else ["--help"])
        assert exit_info.value.code == 0


def test_a_command_imports_what_it_needs_and_not_the_others():
    """Start-up is part of every `zoo denoise`: training, search and SciPy stay unloaded."""
    code = ("import sys, contextlib, io\nfrom zoo.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    main(['denoise', '--help'])\n"
            "print(' '.join(m for m in ('zoo.cli.denoise', 'zoo.train', 'zoo.search', 'zoo.cli.train', 'scipy')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["zoo.cli.denoise"]
