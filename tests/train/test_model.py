import pytest

torch = pytest.importorskip("torch")

from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.train.archs import build_model
from edgegrade.train.model import InjectedClassifier  # noqa: E402
from edgegrade.train.resnet import ResNet50, load_torchvision_weights  # noqa: E402


def test_injection_as_bias_equals_broadcast_concat():
    torch.manual_seed(0)
    clf = InjectedClassifier()
    dec, v = torch.randn(2, 256, 9, 7), torch.randn(2, 2048)
    explicit = clf.conv(torch.cat([dec, v[:, :, None, None].expand(-1, -1, 9, 7)], 1))  # 2304 channels
    assert clf.conv.in_channels == 2304
    assert torch.allclose(clf(dec, v), explicit, atol=1e-4)


@pytest.mark.parametrize("stride,f4", [(16, 4), (8, 8)])
def test_output_stride(stride, f4):
    f1, f3, f4_map = ResNet50(stride)(torch.randn(1, 3, 64, 64))
    assert f1.shape[1:] == (256, 16, 16) and f3.shape[1] == 1024
    assert f4_map.shape[1:] == (2048, f4, f4)


def test_outputs_and_ablation_switches():
    x = torch.randn(2, 3, 64, 64)
    m = build_model().eval()
    with torch.no_grad():
        out = m(x)
    assert out["mask_logits"].shape == (2, 2, 64, 64) and out["ratio"].shape == (2,)
    assert 0 <= float(out["ratio"].min()) and float(out["ratio"].max()) <= 1
    assert build_model(injection=False).classifier.in_channels == 256
    assert build_model(attention=False).decoder.gate is None
    reg = build_model(regression_only=True).eval()
    assert set(reg(x)) == {"ratio"} and not hasattr(reg, "aspp")


def test_torchvision_names_load(tmp_path):
    names = set(ResNet50().state_dict())
    for key in ("conv1.weight", "bn1.running_mean", "layer1.0.downsample.1.weight", "layer4.2.bn3.running_var"):
        assert key in names
    assert sum(p.numel() for p in ResNet50().parameters()) == 25_557_032 - 2048 * 1000 - 1000
    source = ResNet50()
    state = {**source.state_dict(), "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
    torch.save(state, tmp_path / "resnet50.pth")
    target = ResNet50()
    load_torchvision_weights(target, tmp_path / "resnet50.pth")
    assert torch.equal(target.layer3[2].conv2.weight, source.layer3[2].conv2.weight)
    torch.save({"something.else": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(EdgegradeError, match="not a torchvision ResNet-50"):
        load_torchvision_weights(ResNet50(), tmp_path / "wrong.pth")
    with pytest.raises(EdgegradeError, match="need --width 64"):
        load_torchvision_weights(ResNet50(width=16), tmp_path / "resnet50.pth")


def test_width_scales_weights_not_names():
    full, narrow = build_model(), build_model(width=16)
    assert set(full.state_dict()) == set(narrow.state_dict())
    n_full, n_narrow = (sum(p.numel() for p in m.parameters()) for m in (full, narrow))
    assert 12 < n_full / n_narrow < 20  # ~ (64/16)^2, the 1x1 classifier and biases aside
    with torch.no_grad():
        out = narrow.eval()(torch.randn(1, 3, 64, 64))
    assert out["mask_logits"].shape == (1, 2, 64, 64)
