"""TrainConfig (CLI flags override its fields) and the recipes: which phases, which losses."""

from dataclasses import asdict, dataclass, replace

from edgegrade.augment import AUGMENTS
from edgegrade.tasks import get_task
from edgegrade.train.archs import ARCHS
from edgegrade.train.losses import LossWeights


@dataclass
class TrainConfig:
    data: str | None = None  # None: fresh synthetic data in OUT/data
    recipe: str = "auto"  # auto: dual (AttnRegDeepLab), s1 (SMANet on embryos), seg (oocytes)
    task: str = "embryo-fragmentation"  # or "oocyte-inclusions" (Andreini et al.)
    arch: str = "attnregdeeplab"  # or "smanet"
    init: str | None = None  # checkpoint whose weights start training (fine-tuning)
    test_data: str | None = None  # a fixed test set; the data is then split into train/val only
    repeat: int = 1  # passes over the training split per epoch (a small set, augmented on the fly)
    out: str = "runs/train"
    size: int = 256
    crop: str = "auto"  # embryo (embryo task) / full (oocytes): "full" letterboxes the whole frame
    margin: float = 1.5  # embryo crop side / the embryo box's longer side
    epochs: int = 10  # per phase: the cap when `patience` stops early
    patience: int = 0  # stop a phase after this many epochs without a better validation metric (0: off)
    augment: str = "full"  # full (geometry and pixels), geometric, off: edgegrade.augment
    batch: int = 8
    device: str = "auto"
    lr: float = 0.0  # 0: the task's (embryos 1e-4, paper IV-A; oocytes 1e-3, tiny targets)
    lr_finetune: float = 1e-5  # phase 2, frozen backbone (paper IV-A)
    weight_decay: float = 1e-4
    precise_bn: int = 0  # batches to recompute BatchNorm statistics on before each validation (0: off)
    schedule: str = "constant"  # or "poly": DeepLab's decay per step
    output_stride: int = 0  # 0: the architecture's (AttnRegDeepLab 16, docs/design.md; SMANet 8, tiny inclusions)
    width: int = 64  # backbone stem channels; 64 = ResNet-50 (smaller: tests, quick experiments)
    seed: int = 0
    workers: int = 2
    amp: str = "auto"  # auto: bf16 on CUDA, off on CPU; or bf16 / fp16 / off
    resume: bool = False
    backbone_weights: str | None = None
    synth_n: int = 160
    synth_size: int = 0  # side of the rendered images; 0: the task's (embryos 640, a camera frame; oocytes `size`)
    synth_grade_only: int = 80
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    max_steps: int = 0  # per epoch; 0 = the whole training split
    plots: bool = True

    def to_dict(self):
        return asdict(self)

    def resolved(self) -> "TrainConfig":
        """`auto` fields made explicit (what checkpoints store), after checking the combination."""
        from edgegrade.errors import EdgegradeError

        task = get_task(self.task)
        arch = ARCHS.get(self.arch)
        if arch is None:
            raise EdgegradeError(f"--arch {self.arch}: unknown; choose from {', '.join(ARCHS)}")
        recipe = self.recipe if self.recipe != "auto" else task.recipes[self.arch]
        if recipe not in RECIPES:
            raise EdgegradeError(f"--recipe {recipe}: unknown; choose from {', '.join(RECIPES)}")
        if (not arch.regression or not task.graded) and recipe not in SEGMENTATION_ONLY:
            why = f"{arch.title} has no regression head" if not arch.regression else \
                f"{task.name} has no fragmentation grade"
            raise EdgegradeError(f"--recipe {recipe}: {why}; use --recipe {' or '.join(SEGMENTATION_ONLY)}")
        if self.repeat < 1:
            raise EdgegradeError(f"--repeat {self.repeat}: must be at least 1")
        if self.augment not in AUGMENTS:
            raise EdgegradeError(f"--augment {self.augment}: choose from {', '.join(AUGMENTS)}")
        return replace(self, recipe=recipe, crop=task.crop if self.crop == "auto" else self.crop,
                       output_stride=self.output_stride or arch.output_stride, lr=self.lr or task.lr,
                       synth_size=self.synth_size or task.synth_size or self.size)


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

    def model_kwargs(self, cfg: TrainConfig) -> dict:
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
    "s1": [Phase("s1", "model", S1.weights)],
    "mtl": [Phase("mtl", "model", MTL.weights, select="mae_direct")],
    "noinject": [NOINJECT],
    "regression": [REGRESSION],
    "deeplabv3plus": [PLAIN_S1],
    # segmentation alone (oocyte inclusions, Andreini et al.): L_seg, best mean IoU
    "seg": [Phase("seg", "model", LossWeights(1, 0, 0), select="miou")],
}
SEGMENTATION_ONLY = ("seg", "s1")
