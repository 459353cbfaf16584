"""SMANet (Segmentation Multiscale Attention Network, Bonechi et al., Pattern Recognition
Letters 2020), as the oocyte paper (Andreini et al., 2.2) describes it: a dilated ResNet-50
encoder, a multiscale attention module that returns two pixel-wise attention maps multiplied
with the encoder features (after a 1x1 conv that reduces their channels) and a pixel-wise
prediction, then a two-level decoder that recovers small details at higher resolution.

The SMANet paper itself (Bonechi et al., arXiv 1911.09026) was searched for (the search tool
found its abstract, not its architecture section), so what follows rests on the oocyte
paper's description. Where the papers are vague, and what we chose:
- Dilation: "dilated ResNet50" without a stride; we default to output stride 8 (layer3 d=2,
  layer4 d=4, as PSPNet, SMANet's ancestor) because inclusions are 2-7 px wide at 256 px and
  vanish at 1/16. `--output-stride 16` is allowed.
- The two scales the attention chooses between: a local 3x3 context of the reduced features,
  and a global context from PSPNet's pyramid pooling over them, with bins 1, 2, 4, 8 instead
  of PSPNet's 1, 2, 3, 6: ONNX exports adaptive pooling only when the bins divide the map
  (32x32 for a 256 input at stride 8). The two
  maps are a softmax over the scales per pixel (as in Chen et al.'s "attention to scale"), so
  each pixel weighs local detail against context. The module's own prediction (1x1 conv) is
  upsampled and concatenated into the first decoder level.
- The two decoder levels: 1/4 (with a 48-ch projection of layer1, as DeepLabV3+) and 1/2
  (with a 24-ch projection of the stem), then a 1x1 classifier upsampled 2x to the input.
- Outputs follow the toolkit: sigmoid channels (target, region): for oocytes (inclusion,
  ooplasm), for embryos (fragment, embryo). The paper's task is binary (inclusion vs rest):
  its metrics are read off channel 0 only; the region channel gives the runtime an outline
  and an area per oocyte. No regression head, so no "ratio" output.
Channel counts scale with `width` like the rest of the model (64: 512-ch attention, 256/64-ch
decoder levels)."""

import torch
import torch.nn.functional as F
from torch import nn

from edgegrade.train.blocks import ModelConfig, conv_bn_relu
from edgegrade.train.resnet import ResNet50


def _up(x, like):
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


class MultiscaleAttention(nn.Module):
    def __init__(self, cin, ch, num_classes, bins=(1, 2, 4, 8)):
        super().__init__()
        self.reduce = conv_bn_relu(cin, ch)  # the 1x1 conv before the attention maps apply
        self.local = conv_bn_relu(ch, ch, 3)
        self.pyramid = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(b), conv_bn_relu(ch, ch // 4)) for b in bins)
        self.context = conv_bn_relu(ch + len(bins) * (ch // 4), ch, 3)
        self.attention = nn.Conv2d(2 * ch, 2, 1)  # two pixel-wise maps, softmax over the scales
        self.predict = nn.Conv2d(ch, num_classes, 1)

    def forward(self, f4):
        x = self.reduce(f4)
        local = self.local(x)
        glob = self.context(torch.cat([x] + [_up(p(x), x) for p in self.pyramid], 1))
        maps = torch.softmax(self.attention(torch.cat([local, glob], 1)), 1)
        fused = maps[:, :1] * local + maps[:, 1:] * glob
        return fused, self.predict(fused)


class SMANet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w, k = cfg.width, cfg.num_classes
        self.backbone = ResNet50(cfg.output_stride, w)
        self.attention = MultiscaleAttention(32 * w, 8 * w, k)
        self.skip1, self.skip2 = conv_bn_relu(4 * w, 3 * w // 4), conv_bn_relu(w, 3 * w // 8)
        self.level1 = nn.Sequential(conv_bn_relu(8 * w + k + 3 * w // 4, 4 * w, 3), conv_bn_relu(4 * w, 4 * w, 3))
        self.level2 = nn.Sequential(conv_bn_relu(4 * w + 3 * w // 8, w, 3), conv_bn_relu(w, w, 3))
        self.classifier = nn.Conv2d(w, k, 1)

    def forward(self, x):
        stem, f1, _, f4 = self.backbone.levels(x)
        fused, coarse = self.attention(f4)
        d = self.level1(torch.cat([_up(fused, f1), _up(coarse, f1), self.skip1(f1)], 1))
        d = self.level2(torch.cat([_up(d, stem), self.skip2(stem)], 1))
        return {"mask_logits": _up(self.classifier(d), x)}
