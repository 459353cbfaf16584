"""ResNet-50 with torchvision's parameter names (so an ImageNet checkpoint file of torchvision
loads as is) and DeepLab-style dilation: output stride 16 dilates layer4 by 2; output stride
8 dilates layer3 by 2 and layer4 by 4. Returns F1 (layer1), F3 (layer3) and F4 (layer4).

`width` is the stem's channel count: 64 is ResNet-50 itself (F1/F3/F4 = 256/1024/2048
channels); a smaller width keeps the depth and the names at 1/(64/width)^2 of the weights."""

import torch
from torch import nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, dilation=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet50(nn.Module):
    def __init__(self, output_stride: int = 16, width: int = 64):
        super().__init__()
        if output_stride not in (8, 16):
            raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")
        dilate = [False, output_stride == 8, True]  # torchvision's replace_stride_with_dilation
        self.inplanes, self.dilation = width, 1
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(width, 3)
        self.layer2 = self._make_layer(2 * width, 4, 2, dilate[0])
        self.layer3 = self._make_layer(4 * width, 6, 2, dilate[1])
        self.layer4 = self._make_layer(8 * width, 3, 2, dilate[2])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last BN of each block (torchvision's option)
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)

    def _make_layer(self, planes, blocks, stride=1, dilate=False):
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, previous_dilation)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes, dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        return self.levels(x)[1:]

    def levels(self, x):
        """(stem at 1/2, F1, F3, F4): the stem's output feeds SMANet's second decoder level."""
        stem = self.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(self.maxpool(stem))
        f3 = self.layer3(self.layer2(f1))
        return stem, f1, f3, self.layer4(f3)


def load_torchvision_weights(backbone: ResNet50, path) -> None:
    """Load a torchvision resnet50 state_dict file (weights only; fc.* is ignored). A file
    that does not fit (a wrong shape, a missing or unexpected name) fails loudly, naming it."""
    from edgegrade.errors import EdgegradeError

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        raise EdgegradeError(f"{path}: not a readable torch weights file ({exc.__class__.__name__})") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    own = backbone.state_dict()
    wrong = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise EdgegradeError(f"{path}: {wrong[0]} is {tuple(state[wrong[0]].shape)}, the backbone wants "
                             f"{tuple(own[wrong[0]].shape)} (ImageNet weights need --width 64)")
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise EdgegradeError(f"{path}: not a torchvision ResNet-50 state_dict "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
