"""What `train` can run, as plain data: architectures, loss weights, phases and recipes. The
torch code that builds and trains them is in edgegrade/train (train/archs.py builds an
architecture from its record here)."""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Arch:
    title: str
    build: str  # "module:Class", imported when a model is built
    regression: bool  # a regression head and a "ratio" output
    output_stride: int  # default


ARCHS = {
    # output stride 16: docs/design.md (the paper states both 16 and dilated layer3 + layer4)
    "attnregdeeplab": Arch("AttnRegDeepLab", "edgegrade.train.model:AttnRegDeepLab", regression=True, output_stride=16),
    # output stride 8: inclusions are 2-7 px wide and vanish at 1/16
    "smanet": Arch("SMANet", "edgegrade.train.smanet:SMANet", regression=False, output_stride=8),
}


@dataclass(frozen=True)
class LossWeights:
    """L_total = seg * L_seg + reg * L_reg + cons * L_cons (paper III-B: alpha, beta, gamma)."""

    seg: float = 1.0
    reg: float = 1.0
    cons: float = 1.0


@dataclass(frozen=True)
class Phase:
    name: str
    role: str  # file written at the end: assistant / grader / model
    weights: LossWeights
    lr_key: str = "lr"
    injection: bool = True
    attention: bool = True
    regression_only: bool = False
    init_from: str | None = None  # phase whose best weights start this one
    freeze: bool = False  # phase 2: only the regression head and final classifier train
    select: str = "dice"  # validation metric for the best checkpoint

    def model_kwargs(self, cfg) -> dict:
        return dict(output_stride=cfg.output_stride, width=cfg.width, injection=self.injection,
                    attention=self.attention, regression_only=self.regression_only, arch=cfg.arch)


S1 = Phase("s1", "assistant", LossWeights(seg=1, reg=0, cons=1))
MTL = Phase("mtl", "grader", LossWeights(1, 1, 1), select="mae_direct")
# Phase 2 keeps L_seg and L_cons beside L_reg: with L_reg alone the unfrozen final classifier
# would get no gradient at all, and the masks would drift as V_reg changes under injection.
PHASE2 = Phase("phase2", "model", LossWeights(1, 1, 1), lr_key="lr_finetune", init_from="s1",
               freeze=True, select="mae_direct")
NOINJECT = Phase("noinject", "model", LossWeights(1, 1, 1), injection=False, select="mae_direct")
REGRESSION = Phase("regression", "model", LossWeights(0, 1, 0), regression_only=True, select="mae_direct")
PLAIN_S1 = Phase("deeplabv3plus", "model", LossWeights(1, 0, 1), attention=False)

RECIPES: dict[str, list[Phase]] = {
    "dual": [S1, MTL],  # module A (assistant) + module B (grader)
    "decoupled": [replace(S1, role="s1"), PHASE2],  # the single-model option
    "phase2": [replace(PHASE2, init_from=None)],  # phase 2 alone, from an S1 model given with --init
    "s1": [Phase("s1", "model", S1.weights)],
    "mtl": [Phase("mtl", "model", MTL.weights, select="mae_direct")],
    "noinject": [NOINJECT],
    "regression": [REGRESSION],
    "deeplabv3plus": [PLAIN_S1],
    # segmentation alone (oocyte inclusions, Andreini et al.): L_seg, best mean IoU
    "seg": [Phase("seg", "model", LossWeights(1, 0, 0), select="miou")],
}
SEGMENTATION_ONLY = ("seg", "s1")
