"""build_engine: a strongly typed TensorRT network from the FP16/INT8 ONNX (precision is in the
graph), workspace limit, a timing cache reused across builds, an optimisation profile for the
batch range, an optional Jetson DLA core with GPU fallback, optional version-compatible
engines. Written for the TensorRT 10.x (JetPack 6) and 11.x Python APIs: no precision builder
flags, no implicit INT8 calibrators (tests/export/test_tensorrt_api.py checks every name
against both). Options the installed TensorRT or the device lacks are refused in one line."""

import importlib.util
from pathlib import Path

from edgegrade.errors import EdgegradeError, require


def tensorrt_available() -> bool:
    return importlib.util.find_spec("tensorrt") is not None


def check_engine_options(cfg, precision: str) -> None:
    """What can be refused before TensorRT is touched (cfg: an ExportConfig)."""
    if not 1 <= cfg.min_batch <= cfg.opt_batch <= cfg.max_batch:
        raise EdgegradeError(f"--min-batch {cfg.min_batch} --opt-batch {cfg.opt_batch} --max-batch {cfg.max_batch}: "
                             "need 1 <= min <= opt <= max")
    if cfg.workspace_mb < 1:
        raise EdgegradeError(f"--workspace-mb {cfg.workspace_mb}: must be at least 1")
    if cfg.dla >= 0 and precision not in ("fp16", "int8"):
        raise EdgegradeError(f"--dla {cfg.dla}: the DLA runs fp16 or int8 only; export with --precision fp16 or int8")
    if cfg.dla >= 0 and not cfg.min_batch == cfg.opt_batch == cfg.max_batch:
        raise EdgegradeError(f"--dla {cfg.dla}: the DLA takes one fixed batch; set --min-batch, --opt-batch and "
                             "--max-batch equal")


def _use_dla(trt, builder, config, core: int) -> None:
    """Default device DLA `core`, layers it cannot run on the GPU (trtexec's --useDLACore
    --allowGPUFallback)."""
    device = getattr(getattr(trt, "DeviceType", None), "DLA", None)
    fallback = getattr(trt.BuilderFlag, "GPU_FALLBACK", None)
    if device is None or fallback is None or not hasattr(config, "DLA_core"):
        raise EdgegradeError(f"--dla {core}: TensorRT {trt.__version__} has no DLA API")
    cores = int(getattr(builder, "num_DLA_cores", 0))
    if core >= cores:
        raise EdgegradeError(f"--dla {core}: this device has {cores} DLA core(s) under TensorRT {trt.__version__} "
                             "(DLA: Jetson Orin with TensorRT <= 10.7, or >= 11.4.1 on JetPack 7.2.2)")
    config.default_device_type = device
    config.DLA_core = core
    config.set_flag(fallback)


def build_engine(onnx_path, engine_path, cfg, *, size: int, precision: str, timing_cache=None) -> dict:
    """cfg: the ExportConfig (batch profile, DLA core, workspace, version compatibility: the
    one place their defaults live); timing_cache: cfg.timing_cache or the caller's default."""
    check_engine_options(cfg, precision)
    trt = require("tensorrt", "trt")
    from edgegrade.runtime.trt_backend import gpu_identity, write_engine_file

    try:
        identity = gpu_identity()
    except EdgegradeError as exc:
        raise EdgegradeError(f"TensorRT is installed but no usable CUDA GPU was found ({exc})") from None
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strongly = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)  # always on in 11.x
    network = builder.create_network(0 if strongly is None else 1 << int(strongly))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EdgegradeError(f"{onnx_path}: TensorRT cannot parse it: {errors[:300]}")
    image = network.get_input(0)
    if image.shape[0] != -1 and cfg.max_batch > 1:
        raise EdgegradeError(f"--max-batch {cfg.max_batch}: {Path(onnx_path).name} has a fixed batch of "
                             f"{image.shape[0]} (exported with --static-batch)")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, cfg.workspace_mb << 20)
    cache_path = Path(cfg.timing_cache or timing_cache) if (cfg.timing_cache or timing_cache) else None
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path and cache_path.exists() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    if cfg.version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    if cfg.dla >= 0:
        _use_dla(trt, builder, config, cfg.dla)
    profile = builder.create_optimization_profile()
    profile.set_shape(image.name, *((b, 3, size, size) for b in (cfg.min_batch, cfg.opt_batch, cfg.max_batch)))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgegradeError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    if cache_path:
        cache_path.write_bytes(memoryview(config.get_timing_cache().serialize()))
    header = {"tensorrt": trt.__version__, **identity, "version_compatible": bool(cfg.version_compatible),
              "min_batch": cfg.min_batch, "opt_batch": cfg.opt_batch, "max_batch": cfg.max_batch,
              "dla_core": cfg.dla, "workspace_mb": cfg.workspace_mb, "onnx": Path(onnx_path).name}
    write_engine_file(engine_path, header, serialized)
    return header
