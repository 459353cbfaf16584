"""TensorRT engines through cuda-python: pinned host buffers, async copies on the module's own
stream, tensor-name I/O (set_tensor_address + execute_async_v3); TensorRT 10.x and 11.x.

An .engine file starts with a small JSON header (length-prefixed, as Ultralytics does) naming
the TensorRT version and GPU it was built for; a mismatch is refused with a clear message."""

import ctypes
import json
import struct
from pathlib import Path

import numpy as np

from edgegrade.errors import EdgegradeError, require
from edgegrade.runtime.backend import Backend


def read_engine_file(path) -> tuple[dict, bytes]:
    data = Path(path).read_bytes()
    if len(data) < 4:
        raise EdgegradeError(f"{path}: empty engine file")
    n = struct.unpack("<I", data[:4])[0]
    try:
        header = json.loads(data[4:4 + n])
    except ValueError:
        raise EdgegradeError(f"{path}: no edgegrade header; rebuild with `edgegrade export --engine-only`") from None
    return header, data[4 + n:]


def write_engine_file(path, header: dict, engine: bytes) -> None:
    meta = json.dumps(header).encode()
    Path(path).write_bytes(struct.pack("<I", len(meta)) + meta + bytes(engine))


def cudart():
    try:
        from cuda.bindings import runtime  # cuda-python >= 12.6
    except ImportError:
        runtime = require("cuda.cudart", "trt")
    return runtime


def check(result):
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise EdgegradeError(f"CUDA error {err}")
    return rest[0] if len(rest) == 1 else rest


def gpu_identity() -> dict:
    rt = cudart()
    dev = check(rt.cudaGetDevice())
    props = check(rt.cudaGetDeviceProperties(dev))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return {"gpu": name.strip("\x00 "), "compute_capability": f"{props.major}.{props.minor}"}


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, path, max_batch: int = 1):
        super().__init__(path)
        self.max_batch = max_batch

    def activate(self):
        trt = require("tensorrt", "trt")
        rt = cudart()
        header, blob = read_engine_file(self.path)
        here = {"tensorrt": trt.__version__, **gpu_identity()}
        if header.get("version_compatible") is not True and header.get("tensorrt") != here["tensorrt"]:
            raise EdgegradeError(f"{self.path}: built with TensorRT {header.get('tensorrt')}, this is {here['tensorrt']}; "
                                 "rebuild with `edgegrade export --engine-only BUNDLE`")
        if header.get("compute_capability") != here["compute_capability"]:
            raise EdgegradeError(f"{self.path}: built for {header.get('gpu')} (sm {header.get('compute_capability')}), "
                                 f"this is {here['gpu']} (sm {here['compute_capability']}); rebuild on this device")
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        if header.get("dla_core", -1) >= 0:  # built for a DLA core: run on it
            self.runtime.DLA_core = int(header["dla_core"])
        self.max_batch = max(self.max_batch, int(header.get("max_batch", 1)))
        self.engine = self.runtime.deserialize_cuda_engine(blob)
        if self.engine is None:
            raise EdgegradeError(f"{self.path}: TensorRT could not deserialize the engine")
        self.context = self.engine.create_execution_context()
        self.stream = check(rt.cudaStreamCreate())
        self.inputs, self.output_names, self.buffers = [], [], {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.output_names).append(name)
            shape = list(self.engine.get_tensor_shape(name))
            shape[0] = self.max_batch if shape[0] < 0 else shape[0]
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            nbytes = int(np.prod(shape)) * dtype.itemsize
            host_ptr = check(rt.cudaMallocHost(nbytes))  # pinned: async copies really are async
            host = np.ctypeslib.as_array((ctypes.c_byte * nbytes).from_address(host_ptr)).view(dtype).reshape(shape)
            device = check(rt.cudaMalloc(nbytes))
            self.buffers[name] = (host, host_ptr, device, nbytes)
            self.context.set_tensor_address(name, int(device))
        return self

    def infer(self, image):
        rt = cudart()
        name = self.inputs[0]
        host, _, device, _ = self.buffers[name]
        n = image.shape[0]
        if n > host.shape[0]:
            raise EdgegradeError(f"{self.path}: batch {n} > engine buffers ({host.shape[0]})")
        host[:n] = image
        self.context.set_input_shape(name, tuple(image.shape))
        nbytes = image.nbytes
        check(rt.cudaMemcpyAsync(device, host.ctypes.data, nbytes, rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise EdgegradeError(f"{self.path}: TensorRT execution failed")
        outs = {}
        for out in self.output_names:
            h, _, d, _ = self.buffers[out]
            shape = tuple(self.context.get_tensor_shape(out))
            size = int(np.prod(shape)) * h.dtype.itemsize
            check(rt.cudaMemcpyAsync(h.ctypes.data, d, size, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream))
            outs[out] = (h.reshape(-1)[:int(np.prod(shape))].reshape(shape))
        check(rt.cudaStreamSynchronize(self.stream))
        return {k: v.astype(np.float32, copy=True) for k, v in outs.items()}

    def deactivate(self):
        rt = cudart()
        for _, host_ptr, device, _ in getattr(self, "buffers", {}).values():
            rt.cudaFreeHost(host_ptr)
            rt.cudaFree(device)
        self.buffers = {}
        if getattr(self, "stream", None) is not None:
            rt.cudaStreamDestroy(self.stream)
            self.stream = None
