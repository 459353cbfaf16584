"""pix2pix (Isola et al., CVPR 2017), the label map -> image translation the oocyte paper uses
(Andreini et al. 3.1) to turn random label maps into training images: a U-Net generator and a
70x70 PatchGAN discriminator, trained with the adversarial loss plus lambda * L1 (lambda 100).

Choices: the generator takes the label map one-hot (background, cell/ooplasm,
fragment/inclusion) and writes one grey channel (microscope frames are grey; colour inputs
are read as grey); instance norm instead of batch norm (pix2pix trains at batch 1, where the
two agree, and instance norm also behaves at batch > 1); dropout stays on while generating,
as pix2pix does, so one label map can give different images. `width` is pix2pix's ngf/ndf
(64 in the paper; 32 is the CPU default)."""

import math

import numpy as np
import torch
from torch import nn

CLASSES = 3  # label-map values 0 / 1 / 2


def one_hot(labels: torch.Tensor) -> torch.Tensor:
    """(B, H, W) integer label maps -> (B, 3, H, W) float in {-1, 1}."""
    return nn.functional.one_hot(labels.long().clamp(0, CLASSES - 1), CLASSES).permute(0, 3, 1, 2).float() * 2 - 1


def _down(cin, cout, norm=True):
    layers = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout, affine=True))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2, inplace=True))


def _up(cin, cout, dropout=False):
    layers = [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.InstanceNorm2d(cout, affine=True)]
    if dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(*layers, nn.ReLU(inplace=True))


class UNetGenerator(nn.Module):
    """Encoder C64-C128-C256-C512-C512... down to 2x2, decoder mirrored with skips; dropout in
    the three innermost decoder blocks (pix2pix's noise)."""

    def __init__(self, size: int = 256, width: int = 32, cin: int = CLASSES, cout: int = 1):
        super().__init__()
        depth = int(math.log2(size)) - 1  # innermost map 2x2
        if 2 ** (depth + 1) != size or depth < 4:
            raise ValueError(f"generator size must be a power of two >= 32, got {size}")
        chans = [min(width * 2 ** i, width * 8) for i in range(depth)]
        self.downs = nn.ModuleList(
            [_down(cin, chans[0], norm=False)] + [_down(chans[i - 1], chans[i], norm=i < depth - 1) for i in range(1, depth)])
        ups = []
        for i in range(depth - 1, 0, -1):
            cin_up = chans[i] if i == depth - 1 else 2 * chans[i]
            ups.append(_up(cin_up, chans[i - 1], dropout=i >= depth - 3))
        self.ups = nn.ModuleList(ups)
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * chans[0], cout, 4, 2, 1), nn.Tanh())

    def forward(self, x):
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        for up, skip in zip(self.ups, reversed(skips[:-1])):
            x = torch.cat([up(x), skip], 1)
        return self.out(x)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN over (label map, image) pairs: C64-C128-C256-C512 -> one logit per patch."""

    def __init__(self, width: int = 32, cin: int = CLASSES + 1):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            _down(cin, w, norm=False), _down(w, 2 * w), _down(2 * w, 4 * w),
            nn.Conv2d(4 * w, 8 * w, 4, 1, 1, bias=False), nn.InstanceNorm2d(8 * w, affine=True),
            nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(8 * w, 1, 4, 1, 1))

    def forward(self, labels, image):
        return self.net(torch.cat([labels, image], 1))


def init_weights(module):
    """pix2pix's N(0, 0.02) initialisation."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output in [-1, 1] (B, 1, H, W) -> uint8 (B, H, W)."""
    return ((images[:, 0].float().clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()
