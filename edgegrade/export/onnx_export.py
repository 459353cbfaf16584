"""export_onnx: eval mode, BatchNorm folded, opset 17, named I/O, dynamic batch, metadata,
parity with torch checked right after export."""

import copy
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from edgegrade.errors import EdgegradeError
from edgegrade.train.archs import output_names

OPSET = 17
INPUT = "image"


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every Conv2d -> BatchNorm2d pair into the conv (eval mode), in place."""
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
            for (name, conv), (bn_name, bn) in zip(children, children[1:]):
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    setattr(module, name, fuse_conv_bn_eval(conv, bn))
                    setattr(module, bn_name, nn.Identity())
        for i in (1, 2, 3):  # ResNet stem and bottlenecks: convN followed by bnN
            conv, bn = getattr(module, f"conv{i}", None), getattr(module, f"bn{i}", None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, f"conv{i}", fuse_conv_bn_eval(conv, bn))
                setattr(module, f"bn{i}", nn.Identity())
    return model


class Deployable(nn.Module):
    """The network as shipped: sigmoid probabilities instead of logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        out = self.model(image)
        probs = {"masks": torch.sigmoid(out["mask_logits"])} if "mask_logits" in out else {}
        return tuple({**probs, **out}[n] for n in output_names(self.model.cfg))


def export_onnx(model, path, *, size: int, metadata: dict, dynamic_batch: bool = True,
                parity_atol: float = 1e-3) -> dict:
    """Write path (.onnx) and return parity figures (max abs diff per output vs torch)."""
    import onnx
    import onnxruntime as ort

    path = Path(path)
    model = fold_batchnorm(copy.deepcopy(model).eval().float().cpu())  # the caller's model stays as it was
    wrapped = Deployable(model).eval()
    names = output_names(model.cfg)
    x = torch.randn(2 if dynamic_batch else 1, 3, size, size, generator=torch.Generator().manual_seed(0))
    axes = {INPUT: {0: "batch"}, **{n: {0: "batch"} for n in names}} if dynamic_batch else None
    try:
        torch.onnx.export(wrapped, (x,), str(path), input_names=[INPUT], output_names=names,
                          opset_version=OPSET, dynamic_axes=axes, do_constant_folding=True, dynamo=False)
    except OSError:
        raise  # a full or read-only disk: the bundle's staging names the folder
    except Exception as exc:  # noqa: BLE001 - name the op that failed
        raise EdgegradeError(f"ONNX export of {path.name} failed: {str(exc).splitlines()[0][:200]}") from None
    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = [t.numpy() for t in wrapped(x)]
    got = session.run(names, {INPUT: x.numpy()})
    parity = {n: float(np.abs(r - g).max()) for n, r, g in zip(names, ref, got)}
    worst = max(parity.values())
    if worst > parity_atol:
        raise EdgegradeError(f"{path.name}: ONNX Runtime differs from torch by {worst:.2e} (> {parity_atol}) right after export")
    return parity


@torch.no_grad()
def reference_outputs(model, inputs: np.ndarray, batch: int = 8) -> dict[str, np.ndarray]:
    """The torch fp32 model's deployed outputs (probabilities, ratio) on N x 3 x S x S inputs:
    the reference every artifact is gated and benchmarked against."""
    wrapped = Deployable(model.eval().float().cpu()).eval()
    names = output_names(model.cfg)
    chunks = [wrapped(torch.from_numpy(inputs[i:i + batch])) for i in range(0, len(inputs), batch)]
    return {n: np.concatenate([c[k].numpy() for c in chunks]) for k, n in enumerate(names)}
