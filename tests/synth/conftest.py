"""Small synthetic deliveries shared by the synth tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.synth import write_delivery
from synth_helpers import N_PERSONS


@pytest.fixture(scope="session")
def clean_delivery(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth_clean")
    truth = write_delivery(root / "delivery", N_PERSONS, seed=11)
    return root / "delivery", truth


@pytest.fixture(scope="session")
def faulty_delivery(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth_faults")
    truth = write_delivery(root / "delivery", N_PERSONS, seed=12, faults=True)
    return root / "delivery", truth
