"""AttnRegDeepLab (paper III-A): ResNet-50 -> ASPP -> attention-gated F1 skip -> decoder ->
classifier with feature injection of V_reg; regression head GAP(F3) ++ GAP(F4) -> MLP ->
V_reg (2048) -> sigmoid ratio. Outputs two sigmoid channels, fragment and embryo."""

import torch
import torch.nn.functional as F
from torch import nn

from edgegrade.train.blocks import ModelConfig, conv_bn_relu
from edgegrade.train.resnet import ResNet50


class ASPP(nn.Module):
    def __init__(self, cin=2048, cout=256, rates=(6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList([conv_bn_relu(cin, cout)] + [conv_bn_relu(cin, cout, 3, r) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv_bn_relu(cin, cout))
        self.project = nn.Sequential(conv_bn_relu(cout * (len(rates) + 2), cout), nn.Dropout(0.1))

    def forward(self, x):
        pooled = self.pool(x).expand(-1, -1, x.shape[2], x.shape[3])
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], 1))


class AttentionGate(nn.Module):
    """Additive attention (Oktay et al.): the ASPP output gates the projected F1 skip."""

    def __init__(self, gate_ch=256, skip_ch=48, inter_ch=32):
        super().__init__()
        self.w_g = nn.Sequential(nn.Conv2d(gate_ch, inter_ch, 1, bias=False), nn.BatchNorm2d(inter_ch))
        self.w_x = nn.Sequential(nn.Conv2d(skip_ch, inter_ch, 1, bias=False), nn.BatchNorm2d(inter_ch))
        self.psi = nn.Sequential(nn.Conv2d(inter_ch, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, skip, gate):
        return skip * self.psi(F.relu(self.w_g(gate) + self.w_x(skip)))


class Decoder(nn.Module):
    def __init__(self, attention=True, f1_ch=256, aspp_ch=256, skip_ch=48, inter_ch=32):
        super().__init__()
        self.skip = conv_bn_relu(f1_ch, skip_ch)
        self.gate = AttentionGate(aspp_ch, skip_ch, inter_ch) if attention else None
        self.fuse = nn.Sequential(conv_bn_relu(aspp_ch + skip_ch, aspp_ch, 3), conv_bn_relu(aspp_ch, aspp_ch, 3))

    def forward(self, aspp, f1):
        aspp = F.interpolate(aspp, size=f1.shape[2:], mode="bilinear", align_corners=False)
        skip = self.skip(f1)
        if self.gate is not None:
            skip = self.gate(skip, aspp)
        return self.fuse(torch.cat([aspp, skip], 1))


class RegressionHead(nn.Module):
    """The LayerNorm keeps V_reg's scale bounded: injected into the classifier, V_reg also
    receives segmentation gradients, which otherwise grow it until the ratio's sigmoid
    saturates and L1 stops teaching the head (seen in short CPU runs)."""

    def __init__(self, cin=1024 + 2048, hidden=2048):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(cin, hidden), nn.LayerNorm(hidden), nn.ReLU(inplace=True), nn.Dropout(0.2))
        self.out = nn.Linear(hidden, 1)

    def forward(self, f3, f4):
        v_reg = self.mlp(torch.cat([f3.mean((2, 3)), f4.mean((2, 3))], 1))
        return v_reg, torch.sigmoid(self.out(v_reg)).squeeze(1)


class InjectedClassifier(nn.Module):
    """1x1 conv over concat(decoder map [256], V_reg broadcast [2048]) = 2304 channels.

    A 1x1 conv of a spatially constant vector is a per-image bias, so it is computed as
    conv(decoder, W[:, :256]) + (V_reg @ W[:, 256:].T + b): identical math, no 2304xHxW tensor."""

    def __init__(self, dec_ch=256, vec_ch=2048, num_classes=2):
        super().__init__()
        self.dec_ch = dec_ch
        self.conv = nn.Conv2d(dec_ch + vec_ch, num_classes, 1)

    def forward(self, dec, v_reg):
        w = self.conv.weight.flatten(1)  # num_classes x 2304
        bias = F.linear(v_reg, w[:, self.dec_ch:], self.conv.bias)
        return F.conv2d(dec, self.conv.weight[:, :self.dec_ch]) + bias[:, :, None, None]


class AttnRegDeepLab(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width  # 64: F1/F3/F4 = 256/1024/2048, ASPP 256, skip 48, gate 32, V_reg 2048
        self.backbone = ResNet50(cfg.output_stride, w)
        self.reg_head = RegressionHead(16 * w + 32 * w, 32 * w)
        if not cfg.regression_only:
            rates = (6, 12, 18) if cfg.output_stride == 16 else (12, 24, 36)
            self.aspp = ASPP(32 * w, 4 * w, rates)
            self.decoder = Decoder(cfg.attention, 4 * w, 4 * w, 3 * w // 4, w // 2)
            self.classifier = InjectedClassifier(4 * w, 32 * w, cfg.num_classes) if cfg.injection \
                else nn.Conv2d(4 * w, cfg.num_classes, 1)

    def forward(self, x):
        f1, f3, f4 = self.backbone(x)
        v_reg, ratio = self.reg_head(f3, f4)
        if self.cfg.regression_only:
            return {"ratio": ratio}
        dec = self.decoder(self.aspp(f4), f1)
        logits = self.classifier(dec, v_reg) if self.cfg.injection else self.classifier(dec)
        logits = F.interpolate(logits, size=x.shape[2:], mode="bilinear", align_corners=False)
        return {"mask_logits": logits, "ratio": ratio}

    def finetune_parameters(self):
        """Phase 2 trains only the regression head and the final classifier."""
        return list(self.reg_head.parameters()) + list(self.classifier.parameters())
