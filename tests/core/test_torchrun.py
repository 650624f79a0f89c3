"""The torchrun environment (issue 26): read and checked in one place, zoo.torchrun, for zoo
train, zoo denoise and zoo search alike; a bad variable is one line, where int() was a traceback."""

from __future__ import annotations

import pytest

from zoo import torchrun
from zoo.cli import main
from zoo.cli.ranks import Ranks
from zoo.errors import ZooError
from zoo.torchrun import Place

VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")

BAD = {
    "WORLD_SIZE not a number": ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' in the environment is not a whole number"),
    "RANK not a number": ({"WORLD_SIZE": "2", "RANK": "first"}, "RANK='first' in the environment is not a whole number"),
    "LOCAL_RANK a fraction": ({"WORLD_SIZE": "2", "LOCAL_RANK": "0.5"}, "LOCAL_RANK='0.5' in the environment"),
    "no ranks": ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 in the environment: there must be at least one rank"),
    "a rank past the world": ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK 2 / WORLD_SIZE 2, LOCAL_RANK 0 / LOCAL_WORLD_SIZE 2 do not fit"),
    "a local rank past its node": ({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "2"},
                                   "LOCAL_RANK 2 / LOCAL_WORLD_SIZE 2 do not fit"),
    "a node larger than the world": ({"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "3"}, "LOCAL_WORLD_SIZE 3 do not fit"),
}


@pytest.fixture
def environment(monkeypatch):
    """Set torchrun's variables (the others unset)."""
    def set_variables(values: dict[str, str]) -> None:
        for name in VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_variables


def test_without_torchrun_one_process_is_rank_0_of_1(environment):
    environment({})
    assert Place.from_environment() == Place() and Place().main and not Place().several
    environment({"WORLD_SIZE": "1", "RANK": "0"})
    assert Place.from_environment() == Place()


def test_torchruns_variables_give_the_place(environment):
    environment({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    place = Place.from_environment()
    assert place == Place(3, 4, 1, 2) and place.several and not place.main
    assert Ranks.from_environment() == Ranks(3, 4, 1, 2)  # zoo denoise's ranks are the same place


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_variable_is_one_line(environment, case):
    values, message = BAD[case]
    environment(values)
    with pytest.raises(ZooError, match=message) as caught:
        Place.from_environment()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("cores, local_world, threads", [(8, 1, 8), (8, 3, 2), (2, 4, 1)])
def test_a_rank_takes_its_share_of_the_cores(monkeypatch, cores, local_world, threads):
    monkeypatch.setattr(torchrun, "cores", lambda: cores)
    assert Place(0, local_world, 0, local_world).cpu_threads() == threads


@pytest.mark.parametrize("command", [["train", "mwrcanet", "--config", '{"widths": [8, 8, 8], "depth": 1}',
                                      "--steps", "1", "--data", "synthraw", "--val", "none"],
                                     ["search", "run", "tiny", "--trials", "1", "--steps", "2", "--validations", "1"]])
def test_commands_say_so_before_any_work(environment, tmp_path, capsys, command):
    pytest.importorskip("optuna") if command[0] == "search" else None
    environment({"WORLD_SIZE": "2", "RANK": "zero"})
    assert main([*command, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == "zoo: error: RANK='zero' in the environment is not a whole number (torchrun sets it)\n"
    assert not (tmp_path / "run").exists()
