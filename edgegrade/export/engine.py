"""build_engine: a strongly typed TensorRT network from the FP16/INT8 ONNX (precision is in the
graph), workspace limit, a timing cache reused across builds, an optimisation profile for the
batch range, optional version-compatible engines. Written for the TensorRT 10.x (JetPack 6)
and 11.x Python APIs: no precision builder flags, no implicit INT8 calibrators."""

import importlib.util
from pathlib import Path

from edgegrade.errors import EdgegradeError, require


def tensorrt_available() -> bool:
    return importlib.util.find_spec("tensorrt") is not None


def build_engine(onnx_path, engine_path, *, size: int, max_batch: int, workspace_mb: int, timing_cache=None,
                 version_compatible: bool = False, min_batch: int = 1, opt_batch: int = 1) -> dict:
    """max_batch, workspace_mb: ExportConfig's (the one place their defaults live)."""
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
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    cache_path = Path(timing_cache) if timing_cache else None
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path and cache_path.exists() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    if version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    profile = builder.create_optimization_profile()
    name = network.get_input(0).name
    profile.set_shape(name, (min_batch, 3, size, size), (opt_batch, 3, size, size), (max_batch, 3, size, size))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgegradeError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    if cache_path:
        cache_path.write_bytes(memoryview(config.get_timing_cache().serialize()))
    header = {"tensorrt": trt.__version__, **identity, "version_compatible": bool(version_compatible),
              "max_batch": max_batch, "onnx": Path(onnx_path).name}
    write_engine_file(engine_path, header, serialized)
    return header
