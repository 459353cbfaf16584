"""The architectures `--arch` names, one record each: how to build it, whether it has the
regression head (a ratio output), its default output stride."""

from dataclasses import dataclass
from typing import Callable

from torch import nn

from edgegrade.train.blocks import ModelConfig
from edgegrade.train.model import AttnRegDeepLab
from edgegrade.train.smanet import SMANet


@dataclass(frozen=True)
class Arch:
    title: str
    build: Callable[[ModelConfig], nn.Module]
    regression: bool  # a regression head and a "ratio" output
    output_stride: int  # default


ARCHS = {
    "attnregdeeplab": Arch("AttnRegDeepLab", AttnRegDeepLab, regression=True, output_stride=16),  # docs/design.md
    "smanet": Arch("SMANet", SMANet, regression=False, output_stride=8),  # inclusions are 2-7 px
}


def build_model(*, output_stride=16, injection=True, attention=True, regression_only=False,
                width=64, arch="attnregdeeplab") -> nn.Module:
    return from_config(ModelConfig(output_stride, injection, attention, regression_only, width=width, arch=arch))


def from_config(cfg: ModelConfig) -> nn.Module:
    return ARCHS[cfg.arch].build(cfg)


def output_names(cfg: ModelConfig) -> list[str]:
    """What the deployed network returns: masks and/or the direct ratio."""
    if cfg.regression_only:
        return ["ratio"]
    return ["masks", "ratio"] if ARCHS[cfg.arch].regression else ["masks"]
