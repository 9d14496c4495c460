"""dealersim from Python: runs, tables as Arrow, experiments and a Gymnasium environment.

The engine is the Rust library; this package calls it in-process. Runs release the GIL
and stop cleanly on Ctrl-C (``KeyboardInterrupt``, nothing kept). Tables arrive as
``pyarrow.Table`` through the Arrow C stream interface, so their numbers are not copied
and no file is written.

    import dealersim
    run = dealersim.run("scenarios/paper.ron", seed=7)
    print(run.summary)
    metrics = run.tables["metrics"].to_pandas()
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union

import pyarrow as pa

from . import _dealersim
from ._dealersim import RunError, ScenarioError

__all__ = [
    "Experiment",
    "Run",
    "RunError",
    "ScenarioError",
    "experiment",
    "experiments",
    "run",
    "scenario",
    "validate",
    "__version__",
]

__version__: str = _dealersim.__version__

ScenarioLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def _input(scenario: ScenarioLike) -> tuple[str, str]:
    """(kind, text) for the Rust side: a path, RON text, or a dict as JSON.

    A ``str`` is RON text when it contains a newline or starts with ``(``; otherwise it
    is a path. A ``dict`` is the scenario's fields, as ``dealersim.scenario`` returns them.
    """
    if isinstance(scenario, Mapping):
        return "json", json.dumps(scenario, allow_nan=False)
    if isinstance(scenario, os.PathLike):
        return "path", os.fspath(scenario)
    if isinstance(scenario, str):
        if "\n" in scenario or scenario.lstrip().startswith("("):
            return "ron", scenario
        return "path", scenario
    raise TypeError(
        f"a scenario is a path, RON text or a dict, not {type(scenario).__name__}"
    )


@dataclass(frozen=True)
class Run:
    """A finished run: every table the scenario writes, the summary and the manifest.

    ``tables`` holds the same rows as the files ``dealersim run`` writes (``metrics``,
    ``tiers``, ``trades`` when asked, the summary tables...), keyed by table name.
    """

    tables: dict[str, pa.Table]
    """Each table by name, in the CLI's writing order."""
    summary: str
    """The results as the CLI prints them."""
    manifest: dict[str, Any]
    """The manifest (``files`` names the tables, with their row counts)."""
    scenario: str
    """The scenario with every default filled in, as RON (the CLI's ``scenario.ron``)."""
    warnings: list[str] = field(default_factory=list)
    """The scenario's warnings, located as the CLI prints them."""
    timing: dict[str, float] = field(default_factory=dict)
    """Seconds spent in setup, the ticks and collecting the outputs."""

    def __repr__(self) -> str:
        names = ", ".join(f"{n}: {t.num_rows} rows" for n, t in self.tables.items())
        return f"Run({names})"


def run(
    scenario: ScenarioLike,
    seed: int | None = None,
    steps: int | None = None,
    trades: bool | None = None,
) -> Run:
    """Runs ``scenario`` to completion in memory and returns its tables.

    ``seed``, ``steps`` and ``trades`` override the scenario's, as the CLI's flags do.
    The same scenario and seed give the same tables as ``dealersim run`` (byte for byte),
    whatever the thread count.

    Raises ``ScenarioError`` (a ``ValueError``; message with file, line, column and field)
    for a scenario that cannot be used, ``RunError`` for a run that fails, and
    ``KeyboardInterrupt`` if interrupted.
    """
    kind, text = _input(scenario)
    result = _dealersim.run(kind, text, seed=seed, steps=steps, trades=trades)
    tables = {name: pa.table(table) for name, table in result.tables()}
    setup, ticks, outputs = result.timing
    return Run(
        tables=tables,
        summary=result.summary,
        manifest=json.loads(result.manifest_json),
        scenario=result.scenario,
        warnings=list(result.warnings),
        timing={"setup_seconds": setup, "tick_seconds": ticks, "output_seconds": outputs},
    )


def validate(scenario: ScenarioLike) -> list[str]:
    """Checks ``scenario`` as ``dealersim validate`` does and returns its warnings.

    Raises ``ScenarioError`` listing every problem (also in its ``problems`` attribute).
    """
    kind, text = _input(scenario)
    return list(_dealersim.validate_scenario(kind, text))


def scenario(scenario: ScenarioLike) -> dict[str, Any]:
    """The scenario as a dict with every default filled in: edit it and pass it to ``run``."""
    kind, text = _input(scenario)
    return json.loads(_dealersim.scenario_json(kind, text))


@dataclass(frozen=True)
class Experiment:
    """A finished experiment: the result table, its figure and its summary."""

    name: str
    results: pa.Table
    summary: str
    """The markdown summary (``summary.md`` of the CLI)."""
    figure_svg: str
    figure_png: bytes

    def _repr_markdown_(self) -> str:
        return self.summary


def experiment(name: str, runs: int | None = None, seed: int | None = None) -> Experiment:
    """Runs a bundled experiment (see ``experiments()``) or an experiment file.

    ``runs`` (replications per variant) and ``seed`` override the file's.
    """
    result = _dealersim.experiment(name, runs=runs, seed=seed)
    return Experiment(
        name=result.name,
        results=pa.table(result.results),
        summary=result.summary,
        figure_svg=result.figure_svg,
        figure_png=bytes(result.figure_png),
    )


def experiments() -> dict[str, str]:
    """The bundled experiments: name → description."""
    return dict(_dealersim.experiment_names())
