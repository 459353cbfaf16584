"""Export stage: torch -> ONNX -> FP16 / INT8 (precision in the graph) -> TensorRT, gated."""
