"""What every architecture is built from: its config (stored in every checkpoint) and the
conv -> BatchNorm -> ReLU block."""

from dataclasses import asdict, dataclass

from torch import nn

FRAGMENT_CH, EMBRYO_CH = 0, 1


@dataclass(frozen=True)
class ModelConfig:
    output_stride: int = 16
    injection: bool = True
    attention: bool = True
    regression_only: bool = False  # the paper's pure-regression baseline (Exp B)
    num_classes: int = 2
    width: int = 64  # ResNet stem channels: 64 is the paper's ResNet-50; the heads scale with it
    arch: str = "attnregdeeplab"  # or "smanet" (segmentation only: no regression head, no ratio)

    def to_dict(self):
        return asdict(self)


def conv_bn_relu(cin, cout, k=1, dilation=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
