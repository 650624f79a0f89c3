"""The evolutionary architecture search (``zoo search``), multi-objective, on Optuna 5.

    from pathlib import Path
    from zoo.search import Proxy, SearchSettings, load_space, run_search

    status = run_search(SearchSettings(load_space("default"), Path("runs/search"), trials=32,
                                       proxy=Proxy(steps=300), max_gmacs=80))

Optuna is needed only to run, read or export a study (``pip install "zoo-denoise[search]"``); the space,
genomes, Pareto arithmetic and the exported model config files work without it. Modules:
``space`` (TOML space), ``genome`` (genes to an mwnet config, seeds), ``objectives``, ``storage``
(journal or database, dead trials), ``candidate`` (proxy training), ``earlystop``, ``runner``,
``status``, ``report``, ``pareto``, ``export``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Proxy", "SearchSettings", "build_report", "load_space", "parse_space", "run_search", "study_status"]


def __getattr__(name: str) -> Any:
    # Lazy: ``import zoo.search`` stays light (the CLI builds its parser on every ``zoo`` call).
    if name in ("load_space", "parse_space"):
        from zoo.search import space

        return getattr(space, name)
    if name in ("SearchSettings", "run_search"):
        from zoo.search import runner

        return getattr(runner, name)
    if name == "Proxy":
        from zoo.search.candidate import Proxy

        return Proxy
    if name == "study_status":
        from zoo.search.status import study_status

        return study_status
    if name == "build_report":
        from zoo.search.report import build_report

        return build_report
    raise AttributeError(f"module 'zoo.search' has no attribute {name!r}")
