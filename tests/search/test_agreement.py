"""The measured agreement (zoo/search/agreement.py): Spearman against SciPy's, its bootstrap
interval, the power-law fit recovering a known curve, and the choice of the cheapest good proxy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from zoo.search.agreement import (bootstrap_interval, extrapolate, fit_power_law, format_agreement, rung_agreement,
                                  spearman)


@pytest.mark.parametrize("x, y", [
    ([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]),
    ([3.1, 1.2, 2.2, 2.2, 5.0, 0.1], [1, 2, 2, 3, 9, 0]),  # ties on both sides
    (list(np.random.default_rng(3).normal(size=20)), list(np.random.default_rng(4).normal(size=20))),
])
def test_spearman_matches_scipy(x, y):
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_known_values_and_degenerate_inputs():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)  # 1 - 6*2/(4*15)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3])) and math.isnan(spearman([1], [2]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_bootstrap_interval_brackets_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    y = x + rng.normal(scale=0.5, size=12)
    low, high = bootstrap_interval(x, y, resamples=1000, seed=1)
    assert low < spearman(x, y) < high <= 1.0
    assert (low, high) == bootstrap_interval(x, y, resamples=1000, seed=1)
    assert bootstrap_interval([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], resamples=200) == (1.0, 1.0)
    # SciPy's own percentile bootstrap of the same statistic agrees within its resampling noise
    ref = stats.bootstrap((x, y), lambda a, b: stats.spearmanr(a, b).statistic, paired=True, vectorized=False,
                          n_resamples=1000, method="percentile", random_state=2).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.12) and high == pytest.approx(ref.high, abs=0.12)


def test_power_law_recovers_a_known_curve():
    steps = [100, 200, 300, 400]
    values = [38.0 - 25.0 * s ** -0.5 for s in steps]
    law = fit_power_law(steps, values)
    assert law.c == pytest.approx(0.5, rel=0.03) and law.a == pytest.approx(38.0, abs=0.1)
    assert law(3600) == pytest.approx(38.0 - 25.0 / 60.0, abs=0.05)
    assert extrapolate([[s, v] for s, v in zip(steps, values)] + [[800, 99.0]], 400, 3600) == pytest.approx(
        law(3600))  # only the validations up to the rung count
    assert fit_power_law([100, 200], [30.0, 31.0]) is None  # three parameters need three points
    assert fit_power_law([100, 200, 300], [30.0, math.nan, 31.0]) is None


def test_rung_agreement_chooses_the_cheapest_good_proxy():
    rng = np.random.default_rng(5)
    final = rng.normal(38.0, 1.0, size=10)
    results = {}
    for i, f in enumerate(final):
        r0 = 30.0 + rng.normal(size=1)[0]  # rung 0: unrelated to the end
        r1 = f - 1.0 + rng.normal(scale=0.05, size=1)[0]  # rung 1: nearly the last rung's order
        curve = [[s, f - 8.0 * s ** -0.3] for s in (100, 200, 300, 400, 600, 800, 1000, 1200)]
        results[i] = {0: {"psnr": r0, "curve": curve[:4]}, 1: {"psnr": r1, "curve": curve},
                      2: {"psnr": float(f), "curve": curve}}
    agreement = rung_agreement(results, [400, 1200, 3600], resamples=300)
    rows = {r["name"]: r for r in agreement["rows"]}
    assert not rows["rung 0 (400 steps)"]["good"] and rows["rung 1 (1200 steps)"]["good"]
    # the power law over rung 0's validations (an exact curve here) ranks them already: cheapest good
    assert rows["power law fitted up to rung 0"]["good"]
    assert agreement["chosen"]["name"] == "power law fitted up to rung 0"
    assert "Chosen proxy: power law fitted up to rung 0" in format_agreement(agreement)
    point = rung_agreement(results, [400, 1200, 3600], resamples=300, criterion="point", threshold=0.99)
    assert point["criterion"] == "point" and point["chosen"]["name"] == "power law fitted up to rung 0"
    with pytest.raises(ValueError):
        rung_agreement(results, [400, 1200, 3600], criterion="median")
