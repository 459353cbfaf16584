"""CUDA code paths (bf16 autocast, channels_last, fused AdamW, pinned memory); they run
wherever a CUDA GPU is visible to torch."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_cuda_training_with_mixed_precision(tmp_path, amp):
    from conftest import tiny_train_config
    from edgegrade.train import checkpoint
    from edgegrade.train.run import train

    results = train(tiny_train_config(tmp_path, recipe="mtl", device="cuda", amp=amp, epochs=2, plots=False))
    state = checkpoint.load(tmp_path / "model.pt")  # written from the GPU, read on the CPU
    assert state["train_config"]["amp"] == amp
    model = checkpoint.model_from(state)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert torch.isfinite(out["ratio"]).all() and torch.isfinite(out["mask_logits"]).all()
    assert 0 <= results["model"]["test"]["mae_direct"] <= 1
