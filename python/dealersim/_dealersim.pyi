"""Type stubs for the compiled core (``python/src``); the public API is ``dealersim``."""

from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` holds each located problem."""

    problems: list[dict[str, Any]]
    """One dict per problem: ``line``, ``column`` (None where unknown), ``field``, ``message``."""

class RunError(RuntimeError):
    """A run that failed after its scenario was accepted."""

class ArrowTable:
    """A finished table; exported zero-copy through the Arrow C stream interface."""

    @property
    def num_rows(self) -> int: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class RunResult:
    summary: str
    manifest_json: str
    scenario: str
    warnings: list[str]
    timing: tuple[float, float, float]
    def tables(self) -> list[tuple[str, ArrowTable]]: ...

class ExperimentResult:
    name: str
    summary: str
    figure_svg: str
    figure_png: bytes
    @property
    def results(self) -> ArrowTable: ...

class MarketMakingBatch:
    """``count`` quote-control environments stepped together (next-step autoreset)."""

    def __init__(self, config: str, count: int, format: str = "json") -> None: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def steps_per_episode(self) -> int: ...
    @property
    def config_json(self) -> str: ...
    @staticmethod
    def observation_fields() -> list[str]: ...
    def reset(self, seed: int) -> npt.NDArray[np.float64]: ...
    def step(
        self, actions: npt.NDArray[np.float64]
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.bool_],
    ]: ...

def run(
    kind: str,
    scenario: str,
    seed: int | None = None,
    steps: int | None = None,
    trades: bool | None = None,
) -> RunResult: ...
def validate_scenario(kind: str, scenario: str) -> list[str]: ...
def scenario_json(kind: str, scenario: str) -> str: ...
def experiment(name: str, runs: int | None = None, seed: int | None = None) -> ExperimentResult: ...
def experiment_names() -> list[tuple[str, str]]: ...
