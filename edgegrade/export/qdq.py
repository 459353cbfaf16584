"""Q/DQ where TensorRT fuses them (the s8 flavour of the onnxruntime quantizer): which tensors
carry a QuantizeLinear -> DequantizeLinear pair, and the writer that puts them there with
scales from onnxruntime's calibrators. The rules, from TensorRT's "explicit quantization"
guide and the placement NVIDIA ModelOpt's INT8 mode produces (`qdq_rules` checks them):

- weighted ops (Conv, ConvTranspose): both inputs quantized, the activation per tensor and
  the weight per output channel (int8 initializer -> DequantizeLinear); outputs are not.
- residual Add: the skip input carries Q/DQ, the input straight from the Conv does not, so
  TensorRT fuses the Add into that Conv and its output stays INT8;
- pooling (MaxPool, AveragePool, GlobalAveragePool) between quantized layers: its input.
- Concat, Resize, the attention gate's Mul, sigmoids, LayerNorm, the batch-1 Gemms of the
  ratio head: float (a GEMV gains nothing from INT8, and the ratio is the precise tail).

Every pair is symmetric INT8 (zero point 0), and each quantized consumer gets the pair of its
input, so a layer kept in float never reads rounded values through a shared pair."""

from collections import defaultdict
from pathlib import Path

import numpy as np

WEIGHTED = ("Conv", "ConvTranspose")
POOLS = ("MaxPool", "AveragePool", "GlobalAveragePool")


class CalibrationReader:
    """onnxruntime.quantization CalibrationDataReader over an N x 3 x S x S array."""

    def __init__(self, images: np.ndarray, input_name: str):
        self.images, self.input_name = images, input_name
        self.rewind()

    def get_next(self):
        return next(self.items, None)

    def rewind(self):
        self.items = iter([{self.input_name: self.images[i:i + 1]} for i in range(len(self.images))])


def graph_index(graph):
    """-> (producer of each tensor, consumers of each tensor, initializer names)."""
    producer = {o: n for n in graph.node for o in n.output}
    consumers = defaultdict(list)
    for n in graph.node:
        for i in n.input:
            consumers[i].append(n)
    return producer, consumers, {i.name for i in graph.initializer}


def _branch_lengths(producer, a, b, limit=256) -> tuple[int, int]:
    """Nodes from tensors a and b back to their nearest common ancestor, following first
    inputs: the main branch of a residual block is the longer one (through its convolutions),
    the shortcut the shorter (identity, or the downsampling conv)."""
    seen, t = {}, a
    for d in range(limit):
        seen[t] = d
        if t not in producer:
            break
        t = producer[t].input[0]
    t = b
    for d in range(limit):
        if t in seen:
            return seen[t], d
        if t not in producer:
            break
        t = producer[t].input[0]
    return limit, limit


def residual_partner(node, producer, shapes) -> int | None:
    """For an Add of two same-shape activations of which at least one comes straight from a
    Conv: the index of that input (its fusion partner; of two, the one on the longer branch,
    i.e. not the downsampling shortcut). None for any other Add."""
    a, b = node.input[:2]
    if a not in producer or b not in producer or shapes.get(a) is None or shapes.get(a) != shapes.get(b):
        return None
    convs = [k for k, t in enumerate((a, b)) if producer[t].op_type in WEIGHTED]
    if len(convs) == 2:  # both branches end in a conv: the main branch is the longer one
        da, db = _branch_lengths(producer, a, b)
        return 0 if da >= db else 1
    return convs[0] if convs else None


def tensor_shapes(model) -> dict:
    """Static shape (with symbolic dims as names) of every tensor onnx shape inference knows."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = tuple(d.dim_value or d.dim_param or None for d in dims) if dims else None
    return shapes


def plan(model, exclude=()) -> dict[str, list[tuple[int, int]]]:
    """Activation tensor -> the (node index, input index) pairs that read it through its Q/DQ
    pair. Weighted ops in `exclude` stay float, and so do the residual Adds they feed."""
    graph = model.graph
    producer, consumers, inits = graph_index(graph)
    shapes = tensor_shapes(model)
    quantized = {id(n) for n in graph.node if n.op_type in WEIGHTED and n.input[1] in inits
                 and n.name not in set(exclude)}
    wanted = defaultdict(list)
    for i, n in enumerate(graph.node):
        if id(n) in quantized:
            wanted[n.input[0]].append((i, 0))
        elif n.op_type == "Add":
            k = residual_partner(n, producer, shapes)
            if k is not None and id(producer[n.input[k]]) in quantized:
                wanted[n.input[1 - k]].append((i, 1 - k))
        elif n.op_type in POOLS and any(id(c) in quantized for c in consumers[n.output[0]]):
            wanted[n.input[0]].append((i, 0))
    return dict(wanted)


def calibrate(prepared, tensors, images: np.ndarray, method: str, workdir: Path) -> dict[str, float]:
    """Symmetric ranges (amax) of the tensors over the images, by onnxruntime's calibrators."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    op_types = sorted({*WEIGHTED, "Add", *POOLS})
    calibrator = create_calibrator(
        str(prepared), op_types, augmented_model_path=str(Path(workdir) / "augmented.onnx"),
        calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                          "percentile": CalibrationMethod.Percentile}[method],
        extra_options={"symmetric": True, "moving_average": method == "minmax"})
    calibrator.collect_data(CalibrationReader(images, "image"))
    data = calibrator.compute_data()
    return {t: float(max(abs(float(np.asarray(v).reshape(-1)[0])) for v in data[t].range_value)) for t in tensors}


def write(prepared, dst, images: np.ndarray, method: str, exclude=(), workdir: Path = Path(".")) -> Path:
    """dst: the prepared graph with Q/DQ where `plan` says, scales calibrated on the images."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(prepared))
    graph = model.graph
    wanted = plan(model, exclude)
    amax = calibrate(prepared, wanted, images, method, workdir)
    inits = {i.name: i for i in graph.initializer}
    new_nodes, rename = [], {}  # (node name, input index) -> the DQ output it reads
    for tensor, users in wanted.items():
        scale = max(amax[tensor], 1e-8) / 127.0
        s, z = f"{tensor}_qdq_scale", f"{tensor}_qdq_zero"
        graph.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), s),
                                  numpy_helper.from_array(np.array(0, np.int8), z)])
        new_nodes += [helper.make_node("QuantizeLinear", [tensor, s, z], [f"{tensor}_q"], name=f"{tensor}_Q"),
                      helper.make_node("DequantizeLinear", [f"{tensor}_q", s, z], [f"{tensor}_dq"], name=f"{tensor}_DQ")]
        rename.update({user: f"{tensor}_dq" for user in users})
    done = set()
    for i, n in enumerate(graph.node):
        for k in range(len(n.input)):
            if (i, k) in rename:
                n.input[k] = rename[(i, k)]
        if (i, 0) in rename and n.op_type in WEIGHTED:  # its weight: int8 per output channel
            weight = n.input[1]
            if weight not in done:  # (a weight shared by two convs: one int8 copy)
                new_nodes.append(_quantize_weight(graph, n, inits[weight]))
                done.add(weight)
            n.input[1] = f"{weight}_dq"
    graph.node.extend(new_nodes)
    used = {i for n in graph.node for i in n.input}
    float_weights = [i for i in graph.initializer if i.name not in used]  # replaced by their int8 form
    for i in float_weights:
        graph.initializer.remove(i)
    _toposort(graph)
    onnx.save(model, str(dst))
    return Path(dst)


def _quantize_weight(graph, node, weight):
    from onnx import helper, numpy_helper

    w = numpy_helper.to_array(weight).astype(np.float32)
    axis = 1 if node.op_type == "ConvTranspose" else 0  # the output channels
    amax = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
    scale = (np.maximum(amax, 1e-12) / 127.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    name = weight.name
    graph.initializer.extend([numpy_helper.from_array(q, f"{name}_int8"),
                              numpy_helper.from_array(scale, f"{name}_wscale"),
                              numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{name}_wzero")])
    return helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_wscale", f"{name}_wzero"], [f"{name}_dq"],
                            name=f"{name}_DQ", axis=axis)


def _toposort(graph):
    """Nodes in an order where every input is produced before it is read (ONNX requires it)."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        left = []
        for n in pending:
            if all(i in ready for i in n.input):
                ordered.append(n)
                ready.update(n.output)
            else:
                left.append(n)
        if len(left) == len(pending):
            raise ValueError(f"graph has a cycle or a missing input at {left[0].name}")
        pending = left
    del graph.node[:]
    graph.node.extend(ordered)
