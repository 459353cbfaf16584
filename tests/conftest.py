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
    from edgegrade.synth_dataset import write_dataset

    out = tmp_path_factory.mktemp("synth")
    write_dataset(out, 24, size=64, seed=3, grade_only=8, progress=False)
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tiny_train_config(out, **kw):
    from edgegrade.configs import TrainConfig

    # width 16: the same depth and names at 1/16 of ResNet-50's weights (the CI disk is small)
    base = dict(out=str(out), size=64, epochs=1, batch=4, workers=0, synth_n=16, synth_grade_only=4,
                lr=1e-3, device="cpu", plots=True, width=16)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="session")
def dual_run(tmp_path_factory):
    """A dual run (assistant + grader) at 64 px, one epoch each: what export consumes."""
    pytest.importorskip("torch")
    from edgegrade.train.run import train

    out = tmp_path_factory.mktemp("dual_run")
    train(tiny_train_config(out, recipe="dual"))
    return out


@pytest.fixture(scope="session")
def fp16_bundle(dual_run, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from edgegrade.configs import ExportConfig
    from edgegrade.export.pipeline import export_bundle

    out = tmp_path_factory.mktemp("bundles") / "fp16"
    export_bundle(ExportConfig(run=str(dual_run), out=str(out), precision="fp16", eval_n=8), progress=lambda m: None)
    return out


@pytest.fixture(scope="session")
def pretrained_bundle(tmp_path_factory):
    """The shipped pretrained models as an FP32 bundle: models that find embryos and fragments,
    which the lab's loop (pre-annotation, report) is shown on."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from edgegrade import pretrained
    from edgegrade.configs import ExportConfig
    from edgegrade.errors import EdgegradeError
    from edgegrade.export.pipeline import export_bundle

    try:
        pretrained.modules()
    except EdgegradeError as exc:
        pytest.skip(str(exc))
    out = tmp_path_factory.mktemp("bundles") / "pretrained"
    export_bundle(ExportConfig(run="pretrained", out=str(out), precision="fp32", eval_n=8), progress=lambda m: None)
    return out
