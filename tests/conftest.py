"""Shared fixtures: paths to the R reference values beside the project."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = SHARED / "reference"
    if not path.exists():
        pytest.fail(f"R reference values not found at {path}: the project expects ../shared beside it")
    return path
