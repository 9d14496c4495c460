"""Shared fixtures: the repository's scenarios and the CLI binary to compare against."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def paper() -> Path:
    return ROOT / "scenarios" / "paper.ron"


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `dealersim` binary: $DEALERSIM_BIN, else target/{release,debug}, else built."""
    given = os.environ.get("DEALERSIM_BIN")
    if given:
        return Path(given)
    for profile in ("release", "debug"):
        candidate = ROOT / "target" / profile / "dealersim"
        if candidate.exists():
            return candidate
    cargo = shutil.which("cargo")
    assert cargo, "no dealersim binary and no cargo to build one: set DEALERSIM_BIN"
    subprocess.run([cargo, "build", "--bin", "dealersim"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "dealersim"
