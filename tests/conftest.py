import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEGRADE_SHARED", ROOT.parent / "shared"))
REAL = SHARED / "data" / "cleavage-real"


@pytest.fixture(scope="session")
def real_dir():
    if not REAL.is_dir():
        pytest.skip(f"real frames not found at {REAL} (set EDGEGRADE_SHARED)")
    return REAL


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    """A small synthetic dataset shared by the tests (64 px, 24 paired + 8 grade-only)."""
    from edgegrade.synth import write_dataset

    out = tmp_path_factory.mktemp("synth")
    write_dataset(out, 24, size=64, seed=3, grade_only=8, progress=False)
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(0)
