"""Does an INT8 graph carry its Q/DQ where TensorRT fuses them? Checked node by node, for the
s8 flavour of every quantizer (ours in export/qdq.py, NVIDIA ModelOpt's). The rules follow
TensorRT's explicit-quantization guide ("Q/DQ layer placement recommendations"):

R0 symmetric INT8: every QuantizeLinear / DequantizeLinear has an int8 zero point of 0.
R1 weighted ops (Conv, ConvTranspose, Gemm, MatMul with a constant weight): the activation and
   the weight are both quantized or both float ("quantize all inputs of weighted operations";
   half of it makes TensorRT run the layer in float and adds a dequantize); a Conv's weight per
   output channel.
R2 residual Add (two same-shape activations, one straight from a Conv, its fusion partner):
   when the partner is quantized, the skip input carries Q/DQ and the partner input does not
   ("quantize the residual input in skip connections": the Add fuses into the Conv and its
   output stays INT8; a pair between them splits the fusion). Two Conv inputs: exactly one.
R3 pooling (MaxPool, AveragePool, GlobalAveragePool) that feeds a quantized weighted op: its
   input is quantized, so the pool runs in INT8 between INT8 layers.
R4 Concat: its quantized inputs share one scale (TensorRT then writes them into one buffer).
R5 no idle pair: every activation Q/DQ pair feeds at least one op TensorRT runs on INT8 inputs
   (weighted ops, Add, Mul, pooling, Concat, Resize); a pair before only a sigmoid, a LayerNorm
   or a graph output costs accuracy and buys no speed.

What this cannot see: the kernels TensorRT picks, and fusions decided by tensor formats."""

from types import SimpleNamespace

import numpy as np

from edgegrade.export.qdq import POOLS, WEIGHTED, graph_index, residual_partner, tensor_shapes

LINEAR = (*WEIGHTED, "Gemm", "MatMul")
INT8_CONSUMERS = (*LINEAR, "Add", "Mul", "Concat", "Resize", *POOLS)


def check_placement(model) -> list[str]:
    """Every way the graph breaks R0-R5, one line each (empty: it follows them)."""
    from onnx import numpy_helper

    graph = model.graph
    producer, consumers, inits = graph_index(graph)
    const = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].t.dims is not None:
            const[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

    def dq_of(t):
        n = producer.get(t)
        return n if n is not None and n.op_type == "DequantizeLinear" else None

    def source(t):  # the float tensor behind a Q/DQ pair (or a constant's int8 form)
        dq = dq_of(t)
        if dq is None:
            return t
        q = producer.get(dq.input[0])
        return q.input[0] if q is not None and q.op_type == "QuantizeLinear" else dq.input[0]

    def is_weight(t):
        return source(t) in const

    problems = []
    for n in graph.node:  # R0
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zero = const.get(n.input[2]) if len(n.input) > 2 else None
            if zero is None or zero.dtype != np.int8 or zero.any():
                problems.append(f"R0 {n.name}: zero point is not an int8 0 (asymmetric or uint8)")
    quantized = set()
    for n in graph.node:  # R1
        if n.op_type not in LINEAR or len(n.input) < 2 or not is_weight(n.input[1]):
            continue
        weight_q, act_q = dq_of(n.input[1]) is not None, dq_of(n.input[0]) is not None
        if weight_q != act_q:
            problems.append(f"R1 {n.name}: {'weight' if weight_q else 'activation'} quantized, the other float")
        elif weight_q:
            quantized.add(id(n))
            scale = const.get(dq_of(n.input[1]).input[1])
            channels = const[source(n.input[1])].shape[1 if n.op_type == "ConvTranspose" else 0]
            if n.op_type in WEIGHTED and (scale is None or scale.size != channels):
                problems.append(f"R1 {n.name}: weight scale is not per output channel")
    shapes = tensor_shapes(model)
    for n in graph.node:
        if n.op_type == "Add":  # R2
            plain = SimpleNamespace(input=[source(t) for t in n.input[:2]])
            k = residual_partner(plain, producer, shapes)
            partner = producer.get(plain.input[k]) if k is not None else None
            if partner is None or id(partner) not in quantized:
                continue
            qs = [dq_of(t) is not None for t in n.input[:2]]
            both_convs = all(producer.get(t) is not None and producer[t].op_type in WEIGHTED for t in plain.input)
            if (both_convs and sum(qs) != 1) or (not both_convs and (qs[k] or not qs[1 - k])):
                problems.append(f"R2 {n.name}: residual Add with Q/DQ on {qs} (skip input {1 - k})")
        elif n.op_type in POOLS:  # R3
            after = [c for c in consumers[n.output[0]]]
            after += [c2 for c in after if c.op_type == "QuantizeLinear"
                      for dq in consumers[c.output[0]] for c2 in consumers[dq.output[0]]]
            if any(id(c) in quantized for c in after) and dq_of(n.input[0]) is None:
                problems.append(f"R3 {n.name}: pool between INT8 layers with a float input")
        elif n.op_type == "Concat":  # R4
            scales = {float(np.asarray(const.get(dq_of(t).input[1], np.nan)).reshape(-1)[0])
                      for t in n.input if dq_of(t) is not None}
            if len(scales) > 1:
                problems.append(f"R4 {n.name}: quantized inputs with {len(scales)} different scales")
    for n in graph.node:  # R5
        if n.op_type != "DequantizeLinear" or is_weight(n.output[0]):
            continue
        users = consumers[n.output[0]]
        if not any(u.op_type in INT8_CONSUMERS for u in users):
            problems.append(f"R5 {n.name}: Q/DQ pair feeding only {sorted({u.op_type for u in users}) or ['the output']}")
    return problems
