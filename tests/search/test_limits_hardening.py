"""Issue 28, limits checked before a search starts: a search space's size and the search's steps.
Each was a hang or a silent acceptance."""

from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo import limits
from zoo.errors import ZooError
from hardening import one_line

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TINY_SPACE = """
widths = [[4, 8], [4, 8], [4, 8]]
act = ["relu"]
[groups.default]
blocks = ["residual"]
depth = DEPTH
options = {}
"""


# --- search spaces --------------------------------------------------------------------------------------

@FAST
@given(high=st.integers(1_001, 10**12))
def test_a_huge_depth_range_is_refused_before_the_search(high):
    from zoo.search.space import parse_space

    with pytest.raises(ZooError, match="above the limit of 1,000 choices|modules a model may have") as caught:
        parse_space(TINY_SPACE.replace("DEPTH", f"{{ min = 1, max = {high} }}"), "huge.toml")
    assert "\n" not in str(caught.value)


def test_a_fixed_depth_beyond_the_module_limit_is_refused():
    from zoo.search.space import parse_space

    with pytest.raises(ZooError, match="a depth of 1,000,000 builds more than the 10,000 modules"):
        parse_space(TINY_SPACE.replace("DEPTH", "1000000"), "deep.toml")


@pytest.mark.parametrize("count", [1_001, 100_000])
def test_a_huge_option_list_is_refused(count):
    from zoo.search.space import parse_space

    text = TINY_SPACE.replace("DEPTH", "1").replace("[[4, 8], [4, 8], [4, 8]]",
                                                    f"[[{', '.join(map(str, range(1, count + 1)))}], [4], [4]]")
    with limits.override(max_json_bytes=0):
        with pytest.raises(ZooError, match=f"widths\\[0\\] lists {count:,} choices, above the limit of 1,000"):
            parse_space(text, "wide.toml")


def test_the_search_limit_is_overridable():
    from zoo.search.space import parse_space

    with limits.override(max_search_choices=5000):
        space = parse_space(TINY_SPACE.replace("DEPTH", "{ min = 1, max = 2000 }"), "ok.toml")
    assert space.units[0].depth == (1, 2000)


def test_search_run_refuses_a_huge_space_before_anything_is_made(tmp_path, capsys):
    pytest.importorskip("optuna")
    space = tmp_path / "huge.toml"
    space.write_text(TINY_SPACE.replace("DEPTH", "{ min = 1, max = 1000000000 }"))
    out = tmp_path / "out"
    assert "above the limit" in one_line(capsys, ["search", "run", str(space), "--out", str(out)])
    assert not out.exists()


def test_search_steps_above_the_limit_are_refused(tmp_path, capsys):
    pytest.importorskip("optuna")
    line = one_line(capsys, ["search", "run", "tiny", "--out", str(tmp_path / "o"), "--steps", str(10**12)])
    assert "above the limit of 100,000,000 steps" in line and not (tmp_path / "o").exists()
