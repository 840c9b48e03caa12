"""The tests run in the environment of requirements.lock, version for version.

`make test-latest` runs the suite in the newest versions the ranges allow and sets
KOORD_UNLOCKED=1, the one place where a difference from the lock is the point.
"""

import os
from pathlib import Path

import pytest

from pipeline import environment

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"


def test_the_lock_pins_every_package_with_hashes():
    text = LOCK.read_text(encoding="utf-8")
    pins = environment.read_lock(LOCK)
    assert {"duckdb", "pandas", "polars", "numpy", "statsmodels", "lifelines", "weasyprint"} <= set(pins)
    assert {"setuptools", "wheel"} <= set(pins), "the build back-end is locked too (make setup builds koord without isolation)"
    assert text.count("--hash=sha256:") >= len(pins)
    assert "--index-url" not in text and "--find-links" not in text


@pytest.mark.skipif(os.environ.get("KOORD_UNLOCKED") == "1", reason="make test-latest: newest allowed versions")
def test_the_environment_is_the_lock():
    assert environment.differences(environment.read_lock(LOCK), environment.installed()) == []


def test_differences_name_missing_extra_and_other_versions():
    found = environment.differences({"duckdb": "2.0.1", "pandas": "2.3.3"},
                                    {"duckdb": "2.0.0", "polars": "2.1.0", "pip": "26.0", "koord": "0.1.0"})
    assert found == [
        "duckdb 2.0.0 is installed, the lock file says 2.0.1",
        "pandas==2.3.3 is locked but not installed",
        "polars 2.1.0 is installed but not in the lock file",
    ]


def test_a_malformed_lock_line_is_named(tmp_path):
    bad = tmp_path / "r.lock"
    bad.write_text("duckdb==2.0.1 \\\n    --hash=sha256:00\npandas>=2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"r.lock, line 3: expected 'name==version'"):
        environment.read_lock(bad)
