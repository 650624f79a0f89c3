"""Issue 28, a search's own files are input too: a damaged or crafted study.journal or search.json
is one line from status, report, export and run (Optuna's errors caught where zoo calls it); a
database named in a folder's search.json is never opened unless given with --storage; a resumed
run with a changed study, a missing or empty journal, or --heartbeat 0 is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

optuna = pytest.importorskip("optuna", reason="zoo search needs optuna")

from zoo.cli import main  # noqa: E402
from zoo.search import storage as stores  # noqa: E402
from zoo.search.journal import check_journal  # noqa: E402

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
READERS = ("status", "report", "export")
PROXY = ["--steps", "20", "--batch", "4", "--patch", "32", "--population", "4", "--validations", "2"]


def architecture() -> dict:
    """A real candidate's architecture: the mwresnet seed on the tiny space."""
    from zoo.search.genome import SEEDS, project, to_config
    from zoo.search.space import load_space

    space = load_space("tiny")
    return to_config(space, project(space, SEEDS["mwresnet"])[0])


def make_study(folder: Path, url: str | None = None) -> Path:
    """A finished two-trial study in ``folder`` (stored in its journal, or at ``url``), written
    through Optuna without training."""
    from optuna.distributions import IntDistribution

    config = architecture()
    location = stores.open_for_run(folder, url, heartbeat=30, grace=120)
    study = optuna.create_study(storage=location.storage, study_name="search", directions=["maximize", "minimize"])
    study.set_user_attr("zoo.search", {"space_name": "tiny", "space_hash": "x", "objectives": ["psnr", "gmacs"],
                                       "sampler": "nsga2", "proxy": {"val": "synthval"}, "max_gmacs": None})
    for i in range(2):
        study.add_trial(optuna.trial.create_trial(
            params={"width1": 4 + i}, distributions={"width1": IntDistribution(1, 8)}, values=[30.0 + i, 1.0 + i],
            user_attrs={"psnr": 30.0 + i, "gmacs": 1.0 + i, "mparams": 0.1, "counted": True, "config": config}))
    stores.write_folder_file(folder, location, "search")
    return folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_study(tmp_path_factory.mktemp("pristine") / "search")


@pytest.fixture
def study(pristine, tmp_path) -> Path:
    folder = tmp_path / "search"
    folder.mkdir()
    for name in (stores.JOURNAL, stores.FOLDER_FILE):
        (folder / name).write_bytes((pristine / name).read_bytes())
    return folder


def argv(command: str, folder: Path, tmp_path: Path, *extra: str) -> list[str]:
    if command == "export":
        return ["search", "export", str(folder), "--trial", "0", "--name", "x", "-o", str(tmp_path / "x.json"), *extra]
    if command == "report":
        return ["search", "report", str(folder), "--to", str(tmp_path / "report"), *extra]
    return ["search", command, str(folder), *extra]


def one_line(capsys, args: list[str]) -> str:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), err
    return lines[0]


def test_a_pristine_study_reads(study, tmp_path, capsys):
    for command in READERS:
        assert main(argv(command, study, tmp_path)) == 0
    capsys.readouterr()


@pytest.mark.parametrize("config, expected", [(None, "records no architecture"), ([1, 2], "is not one zoo writes"),
                                              ({"groups": "x", "widths": [4]}, "is not one zoo writes"),
                                              ("deep", "above the size limit")])
def test_a_crafted_trial_architecture_is_checked_before_export(tmp_path, capsys, config, expected):
    from optuna.distributions import IntDistribution

    if config == "deep":
        config = architecture()
        config["groups"][0]["depth"] = 10**7
    folder = make_study(tmp_path / "search")
    study = optuna.load_study(study_name="search", storage=stores.open_journal(folder))
    study.add_trial(optuna.trial.create_trial(
        params={"width1": 5}, distributions={"width1": IntDistribution(1, 8)}, values=[40.0, 0.5],
        user_attrs={"psnr": 40.0, "gmacs": 0.5, "mparams": 0.1, "counted": True, "config": config}))
    line = one_line(capsys, ["search", "export", str(folder), "--trial", "2", "--name", "x", "-o", str(tmp_path / "x.json")])
    assert expected in line and "trial 2" in line and not (tmp_path / "x.json").exists()


# --- study.journal ------------------------------------------------------------------------------------

JOURNAL_DAMAGE = {
    "garbage bytes": lambda j: j + b"\xff\xfe\x00\x81garbage\n",
    "a line that is not JSON": lambda j: j + b"not json\n",
    "an unknown op_code (Optuna: AssertionError: Should not reach.)": lambda j: j + b'{"op_code": 99, "worker_id": "w"}\n',
    "an operation without its study (Optuna: KeyError)": lambda j: j + b'{"op_code": 2, "worker_id": "w"}\n',
    "a trial started at no date (Optuna: ValueError)":
        lambda j: j + b'{"op_code": 4, "worker_id": "w", "study_id": 0, "datetime_start": "not a date"}\n',
    "nesting 10,000 deep": lambda j: j + b'{"op_code": 2, "worker_id": "w", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}\n",
    "truncated": lambda j: j[: len(j) - 7],
    "an empty line": lambda j: j + b"\n",
    "a list": lambda j: j + b"[1, 2]\n",
}


@pytest.mark.parametrize("case", list(JOURNAL_DAMAGE))
@pytest.mark.parametrize("command", READERS)
def test_a_damaged_journal_is_one_line(study, tmp_path, capsys, case, command):
    journal = study / stores.JOURNAL
    journal.write_bytes(JOURNAL_DAMAGE[case](journal.read_bytes()))
    line = one_line(capsys, argv(command, study, tmp_path))
    assert str(journal) in line and ("damaged" in line)


def test_a_damaged_journal_stops_a_resumed_run_before_training(study, tmp_path, capsys):
    journal = study / stores.JOURNAL
    journal.write_bytes(journal.read_bytes()[:-7])
    line = one_line(capsys, ["search", "run", "tiny", "--out", str(study), "--trials", "3", *PROXY])
    assert "ends inside line" in line and not (study / "candidates").exists()


@FAST
@given(cut=st.integers(1, 10_000), junk=st.binary(max_size=40))
def test_any_cut_or_junk_in_a_journal_reads_or_is_one_line(pristine, tmp_path, cut, junk):
    """Whatever a crash or an editor leaves: the checked reader passes it or says so in one line."""
    data = (pristine / stores.JOURNAL).read_bytes()
    path = tmp_path / "cut.journal"
    path.write_bytes(data[: cut % (len(data) + 1)] + junk)
    try:
        check_journal(path)
    except Exception as exc:  # noqa: BLE001 - the assertion is about its type and length
        assert type(exc).__name__ == "ZooError" and "\n" not in str(exc), exc


@pytest.mark.parametrize("command", READERS)
def test_a_folder_or_fifo_in_the_journals_place_is_one_line(study, tmp_path, capsys, command):
    journal = study / stores.JOURNAL
    journal.unlink()
    journal.mkdir()
    assert "it is a folder, not a regular file" in one_line(capsys, argv(command, study, tmp_path))
    journal.rmdir()
    os.mkfifo(journal)
    assert "FIFO" in one_line(capsys, argv(command, study, tmp_path))


def test_a_journal_above_the_limit_is_refused(study, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ZOO_MAX_JOURNAL_BYTES", "100")
    assert "above the limit of 100" in one_line(capsys, argv("status", study, tmp_path))


# --- search.json --------------------------------------------------------------------------------------

FOLDER_FILES = {
    "a list": (b"[1, 2]", "must hold a table"),
    "a string": (b'"search"', "must hold a table"),
    "{}": (b"{}", '"study" must name the study'),
    "binary": (b"\x00\xffbinary", "not UTF-8 text"),
    "deeply nested": (b"[" * 5000 + b"]" * 5000, "nests 5000 levels deep"),
    "a storage that is a number": (b'{"study": "search", "storage": 5}', '"storage" must be a database URL or null'),
}


@pytest.mark.parametrize("case", list(FOLDER_FILES))
@pytest.mark.parametrize("command", [*READERS, "run"])
def test_a_damaged_search_json_is_one_line(study, tmp_path, capsys, case, command):
    content, expected = FOLDER_FILES[case]
    (study / stores.FOLDER_FILE).write_bytes(content)
    args = (["search", "run", "tiny", "--out", str(study), "--trials", "3", *PROXY] if command == "run"
            else argv(command, study, tmp_path))
    assert expected in one_line(capsys, args)
    assert not (study / "candidates").exists()


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/evil.db", "postgresql://attacker@203.0.113.1:5432/x",
                                 "mysql://u@h:notaport/db", "sqlite:///{tmp}/../evil2.db"])
@pytest.mark.parametrize("command", READERS)
def test_a_storage_url_in_a_crafted_folder_is_never_opened(study, tmp_path, capsys, monkeypatch, url, command):
    url = url.format(tmp=tmp_path)
    (study / stores.FOLDER_FILE).write_text(json.dumps({"study": "search", "storage": url}))
    opened = []
    monkeypatch.setattr(stores, "open_url", lambda *a, **k: opened.append(a) or pytest.fail("opened"))
    line = one_line(capsys, argv(command, study, tmp_path))
    assert "give --storage URL" in line
    assert opened == [] and not list(tmp_path.rglob("evil*.db"))


def test_a_stored_url_is_opened_when_given_on_the_command_line(tmp_path, capsys):
    pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    folder = make_study(tmp_path / "db-search", url)
    assert "give --storage URL" in one_line(capsys, ["search", "status", str(folder)])
    assert main(["search", "status", str(folder), "--storage", url]) == 0
    capsys.readouterr()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert "not in" in one_line(capsys, ["search", "status", str(folder), "--storage", other])
    assert not (tmp_path / "other.db").exists()


@pytest.mark.parametrize("url", ["postgresql://u@h:abc/db", "postgresql://u@h:99999999999999999999/db",
                                 "mysql://u:secret@h:port/db"])
def test_a_storage_url_with_a_bad_port_is_one_line(tmp_path, capsys, url):
    line = one_line(capsys, ["search", "run", "tiny", "--out", str(tmp_path / "o"), "--storage", url, *PROXY])
    assert "is not a database URL" in line and "secret" not in line
    assert not (tmp_path / "o").exists()


# --- report, and a resumed run ------------------------------------------------------------------------

@pytest.mark.parametrize("reference", ["nan,1", "30,inf", "-inf,nan"])
def test_report_with_a_non_finite_reference_is_one_line(study, tmp_path, capsys, reference):
    line = one_line(capsys, argv("report", study, tmp_path, f"--reference={reference}"))
    assert "two finite numbers" in line and not (tmp_path / "report").exists()


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_a_resumed_run_without_its_journal_is_refused(study, tmp_path, capsys, state):
    journal = study / stores.JOURNAL
    if state == "missing":
        journal.unlink()
    else:
        journal.write_bytes(b"")
    line = one_line(capsys, ["search", "run", "tiny", "--out", str(study), "--trials", "3", *PROXY])
    assert f"its study.journal is {state}: its trials are lost" in line
    assert not (study / "candidates").exists() and (state == "empty") == journal.exists()


def test_a_resumed_run_naming_another_study_is_refused(study, tmp_path, capsys):
    line = one_line(capsys, ["search", "run", "tiny", "--out", str(study), "--study", "other", "--trials", "3", *PROXY])
    assert "holds study 'search', not 'other'" in line
    assert json.loads((study / stores.FOLDER_FILE).read_text())["study"] == "search"


def test_a_moved_run_folder_resumes_its_own_study(study, tmp_path, capsys):
    moved = tmp_path / "renamed"
    study.rename(moved)
    line = one_line(capsys, ["search", "run", "tiny", "--out", str(moved), "--trials", "3", *PROXY])
    assert "study 'search'" in line  # its own study, checked (the fake one's settings are partial); not a new one
    names = optuna.get_all_study_names(stores.open_journal(moved))
    assert names == ["search"]


@pytest.mark.parametrize("extra, message", [
    (["--heartbeat", "0"], "--heartbeat must be at least 1 s"),
    (["--heartbeat", "-5"], "--heartbeat must be at least 1 s"),
    (["--heartbeat", "30", "--grace", "30"], "--grace longer than it"),
])
def test_heartbeat_settings_are_checked_for_a_journal_too(tmp_path, capsys, extra, message):
    out = tmp_path / "o"
    assert message in one_line(capsys, ["search", "run", "tiny", "--out", str(out), "--trials", "1", *PROXY, *extra])
    assert not out.exists()
