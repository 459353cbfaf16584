"""Engine options a TensorRT user expects (batch profile, DLA core, workspace, timing cache):
flags generated from ExportConfig, refused in one line before minutes of export where they
cannot work, and, where the installed TensorRT or device lacks DLA, refused by name."""

from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from edgegrade.cli import main
from edgegrade.configs import ExportConfig
from edgegrade.errors import EdgegradeError
from edgegrade.export.engine import _use_dla, check_engine_options


@pytest.mark.parametrize("kw, precision, message", [
    (dict(min_batch=2, opt_batch=1, max_batch=4), "fp16", "need 1 <= min <= opt <= max"),
    (dict(dla=0, min_batch=1, opt_batch=1, max_batch=1), "fp32", "the DLA runs fp16 or int8 only"),
    (dict(dla=1, max_batch=4), "int8", "the DLA takes one fixed batch"),
    (dict(workspace_mb=0), "fp16", "--workspace-mb 0: must be at least 1"),
])
def test_impossible_engine_options_are_refused(kw, precision, message):
    with pytest.raises(EdgegradeError, match=message):
        check_engine_options(ExportConfig(**kw), precision)
    check_engine_options(ExportConfig(dla=0, min_batch=2, opt_batch=2, max_batch=2), "fp16")  # a DLA profile


def test_the_flags_exist_and_fail_before_export():
    help_text = CliRunner().invoke(main, ["export", "--help"]).output
    for flag in ("--min-batch", "--opt-batch", "--max-batch", "--dla", "--workspace-mb", "--timing-cache"):
        assert flag in help_text
    r = CliRunner().invoke(main, ["export", "--run", "nowhere", "--out", "x", "--engine", "--precision", "fp32",
                                  "--dla", "0", "--max-batch", "1"])
    assert r.exit_code == 2 and "the DLA runs fp16 or int8 only" in r.output and "Traceback" not in r.output


def _trt(dla_api: bool, cores: int):
    flags = SimpleNamespace(GPU_FALLBACK="fallback") if dla_api else SimpleNamespace()
    trt = SimpleNamespace(__version__="x.y", BuilderFlag=flags,
                          **({"DeviceType": SimpleNamespace(DLA="dla", GPU="gpu")} if dla_api else {}))
    config = SimpleNamespace(flags=[], set_flag=lambda f: config.flags.append(f), DLA_core=-1, default_device_type="gpu")
    return trt, SimpleNamespace(num_DLA_cores=cores), config


def test_dla_where_tensorrt_or_the_device_lacks_it():
    with pytest.raises(EdgegradeError, match="--dla 0: TensorRT x.y has no DLA API"):
        _use_dla(*_trt(False, 0), 0)
    with pytest.raises(EdgegradeError, match=r"--dla 1: this device has 1 DLA core\(s\)"):
        _use_dla(*_trt(True, 1), 1)
    trt, builder, config = _trt(True, 2)
    _use_dla(trt, builder, config, 1)
    assert (config.default_device_type, config.DLA_core, config.flags) == ("dla", 1, ["fallback"])
