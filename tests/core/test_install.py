"""Optional packages (issue 26): one helper, zoo.install.require, imports them and says in one
line what to install; every feature that needs one goes through it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from zoo.errors import ZooError
from zoo.install import pip_hint, require

MISSING = {  # import name -> the user's line, for each feature that imports an optional package
    "optuna": 'zoo search needs optuna: pip install optuna (or pip install "zoo-denoise[search]")',
    "bm3d": 'the bm3d baseline needs bm3d: pip install bm3d (or pip install "zoo-denoise[baselines]")',
    "yaml": "recipe.yaml: YAML needs PyYAML: pip install PyYAML; or write it as TOML",
}


def _feature(module: str):
    if module == "optuna":
        from zoo.search.storage import require_optuna

        return require_optuna
    if module == "bm3d":
        from zoo.baselines import BASELINES

        return lambda: BASELINES["bm3d"](np.zeros((8, 8, 1)), 0.1)
    from zoo.reading import parse_yaml

    return lambda: parse_yaml("a: 1", "recipe.yaml")


def test_an_installed_module_comes_back():
    assert require("json").dumps([1]) == "[1]"
    assert require("os.path") is sys.modules["os.path"]  # a submodule, not its package


def test_a_missing_package_is_one_line_with_its_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "zoo_missing_pkg", None)  # import now raises ImportError
    with pytest.raises(ZooError) as caught:
        require("zoo_missing_pkg", "the feature", extra="feature")
    assert str(caught.value) == ('the feature needs zoo_missing_pkg: pip install zoo_missing_pkg '
                                 '(or pip install "zoo-denoise[feature]")')
    with pytest.raises(ZooError, match=r"^PyYAML is not installed: pip install PyYAML$"):
        monkeypatch.setitem(sys.modules, "yaml", None)
        require("yaml", package="PyYAML")


def test_a_broken_install_adds_its_own_error(tmp_path, monkeypatch):
    (tmp_path / "zoo_broken_pkg.py").write_text('raise ImportError("libfoo.so.1: cannot open shared object file")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ZooError) as caught:
        require("zoo_broken_pkg", "the feature")
    assert str(caught.value) == ("the feature needs zoo_broken_pkg: pip install zoo_broken_pkg "
                                 "(libfoo.so.1: cannot open shared object file)")


@pytest.mark.parametrize("module", list(MISSING))
def test_each_feature_says_what_to_install(monkeypatch, module):
    feature = _feature(module)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ZooError) as caught:
        feature()
    assert str(caught.value) == MISSING[module]


def test_a_camera_raw_file_without_rawpy_names_the_raw_extra(tmp_path, monkeypatch):
    from zoo.imageio import read_image
    from zoo.raw.develop import open_raw

    (tmp_path / "shot.cr2").write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "rawpy", None)
    hint = pip_hint("rawpy", extra="raw")
    with pytest.raises(ZooError) as caught:
        read_image(tmp_path / "shot.cr2")
    assert str(caught.value) == f"reading camera raw file {tmp_path / 'shot.cr2'} needs rawpy: {hint}"
    with pytest.raises(ZooError) as caught:
        with open_raw(tmp_path / "shot.cr2"):
            pass
    assert str(caught.value) == f"camera raw file {tmp_path / 'shot.cr2'} needs rawpy: {hint}"


def test_toml_falls_back_to_tomli_where_python_has_no_tomllib(monkeypatch):
    import tomllib

    from zoo.reading import parse_toml

    monkeypatch.setitem(sys.modules, "tomllib", None)  # Python 3.10
    monkeypatch.setitem(sys.modules, "tomli", tomllib)  # the same parser, as a package
    assert parse_toml("a = 1\n[b]\nc = [2]", "the recipe") == {"a": 1, "b": {"c": [2]}}
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(ZooError, match=r"^reading TOML on Python 3\.10 needs tomli: pip install tomli$"):
        parse_toml("a = 1", "the recipe")
