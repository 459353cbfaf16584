"""Models built from their config: the architecture record (edgegrade.recipes.ARCHS) names
the class to build."""

import importlib

from torch import nn

from edgegrade.recipes import ARCHS
from edgegrade.train.blocks import ModelConfig


def build_model(*, output_stride=16, injection=True, attention=True, regression_only=False,
                width=64, arch="attnregdeeplab") -> nn.Module:
    return from_config(ModelConfig(output_stride, injection, attention, regression_only, width=width, arch=arch))


def from_config(cfg: ModelConfig) -> nn.Module:
    module, name = ARCHS[cfg.arch].build.split(":")
    return getattr(importlib.import_module(module), name)(cfg)


def output_names(cfg: ModelConfig) -> list[str]:
    """What the deployed network returns: masks and/or the direct ratio."""
    if cfg.regression_only:
        return ["ratio"]
    return ["masks", "ratio"] if ARCHS[cfg.arch].regression else ["masks"]
