"""FP16 in the ONNX graph (TensorRT 11 has no FP16 builder flag): fp32 inputs/outputs, and the
numerically sensitive tail kept in fp32: sigmoids, the global average pools and the
regression head that feed the ratio."""

from pathlib import Path

KEEP_FP32_OPS = ["Sigmoid", "ReduceMean", "GlobalAveragePool", "Gemm", "MatMul", "LayerNormalization"]


def to_fp16(src, dst) -> Path:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    converted = convert_float_to_float16(model, keep_io_types=True, op_block_list=KEEP_FP32_OPS,
                                         disable_shape_infer=False)
    onnx.save(converted, str(dst))
    return Path(dst)
