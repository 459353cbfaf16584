"""The dual-module pipeline: find the embryo (tracked box, or --roi) -> preprocess with the
bundle's settings -> module A (assistant, mask) and module B (grader, ratio) -> contours
mapped back onto the frame -> what the bundle's task reads off them (edgegrade.tasks: a grade
from the grader with the mask's ratio beside it and a review flag, smoothed over the scene;
for oocyte bundles, inclusions counted)."""

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgegrade.bundle import MANIFEST, read_manifest, sha256
from edgegrade.configs import WatchConfig, check_ranges
from edgegrade.errors import EdgegradeError
from edgegrade.localise import parse_roi
from edgegrade.postprocess import combine
from edgegrade.preprocess import Normaliser, PreprocessSpec, preprocess
from edgegrade.runtime.backends import open_backend
from edgegrade.runtime.smoothing import SceneSmoother
from edgegrade.runtime.sources import Frame
from edgegrade.tasks import Reading, get_task

# grades.jsonl records; 2: oocyte records keep the ooplasm share in `inclusions` only; 3: each
# record names its `run` (runs into one OUT append to one log); 4: each names its `embryo`
# (and, where the frame's name gives one, its `timepoint`) and the `bundle` that graded it
LOG_SCHEMA = 4
BUNDLE_ID_HEX = 16  # a bundle's id: the first hex digits of its manifest's sha256


@dataclass(kw_only=True)
class Result(Reading):
    """One frame's result: what the task read off the models (state "graded" or "no-embryo";
    oocytes "analysed" or "no-oocyte", grade, ratios, review, inclusions) and where it came from."""

    index: int
    name: str
    scene_change: bool = False
    fragment_contours: list = field(default_factory=list)  # the task's targets (fragments, inclusions)
    embryo_contours: list = field(default_factory=list)  # its region's outline (embryo, oocyte)
    timings: dict = field(default_factory=dict)  # milliseconds per stage
    captured: float = 0.0
    roi: dict | None = None  # the embryo box the models saw (frame pixels), when cropping
    headline: tuple = ("", [], (200, 200, 200))  # the task's heading, detail lines and colour
    masks: object = None  # the model-space probabilities (2, H, W) the contours came from
    box: object = None  # the Letterbox from model space back to the frame
    bundle: str = ""  # id of the bundle that graded it (edgegrade.runtime.pipeline.bundle_id)
    embryo: str | None = None  # which embryo (watch: named or counted per scene; None: none in view)
    timepoint: object = None  # a timelapse.Timepoint when the frame's name gives one

    @property
    def summary(self) -> str:
        """One line: the task's heading and details, REVIEW when flagged."""
        head, lines, _ = self.headline
        return "  ".join([head, *lines] + (["REVIEW"] if self.review else []))

    @property
    def label(self) -> str:
        """What the frame came to: a grade, an inclusion count, or the state."""
        if self.inclusions is not None:
            return f"{self.inclusions['count']} inclusions"
        return self.grade or self.state

    def log_record(self) -> dict:
        r = lambda v: None if v is None else round(v, 5)  # noqa: E731
        return {"schema": LOG_SCHEMA, "time": time.time(), "frame": self.index, "name": self.name,
                "state": self.state, "grade": self.grade, "ratio": r(self.ratio), "mask_ratio": r(self.mask_ratio),
                "raw_ratio": r(self.raw_ratio), "raw_mask_ratio": r(self.raw_mask_ratio),
                "review": self.review, "scene_change": self.scene_change, "roi": self.roi,
                "embryo": self.embryo, "bundle": self.bundle,
                **({"timepoint": self.timepoint.time, "time_unit": self.timepoint.unit} if self.timepoint else {}),
                **({"inclusions": self.inclusions} if self.inclusions is not None else {}),
                "latency_ms": {k: round(v, 2) for k, v in self.timings.items()}}


def choose_backend(manifest: dict, bundle: Path, role: str, backend: str) -> Path:
    mod = manifest["modules"][role]
    prec = manifest["precision"]
    engine = mod.get("engines", {}).get(prec)
    if backend == "tensorrt":
        if engine is None:
            raise EdgegradeError(f"--backend tensorrt: {bundle} has no engine for {role}; "
                                 f"build one with `edgegrade export --engine-only {bundle}`")
        return bundle / engine["file"]
    if backend == "auto" and engine is not None and importlib.util.find_spec("tensorrt"):
        return bundle / engine["file"]
    return bundle / mod["artifacts"][prec]["file"]


class Pipeline:
    def __init__(self, cfg: WatchConfig, warn=lambda message: None):
        check_ranges(cfg)
        self.cfg, self.warn = cfg, warn
        self.bundle = Path(cfg.bundle)
        self.manifest = read_manifest(self.bundle)
        self.bundle_sha256 = sha256(self.bundle / MANIFEST)  # names every artifact's hash: the bundle's
        self.bundle_id = self.bundle_sha256[:BUNDLE_ID_HEX]
        if not self.manifest.get("deployable") and not cfg.allow_undeployable:
            raise EdgegradeError(f"{self.bundle}: marked not deployable (its accuracy gate failed); see report.md")
        if cfg.backend not in ("auto", "onnxruntime", "tensorrt"):
            raise EdgegradeError(f"--backend {cfg.backend}: choose auto, onnxruntime or tensorrt")
        self.task = get_task(self.manifest.get("task"))
        self.spec = PreprocessSpec.from_dict(self.manifest["preprocess"])
        self.normaliser = Normaliser(self.spec)
        self.smoother = SceneSmoother(cfg.smooth)
        self.fixed_roi = parse_roi(cfg.roi) if cfg.roi else None  # --roi: the user's box, never searched
        self.roi_checked = None  # the frame size --roi was last checked against
        self.tracker = None
        if self.fixed_roi is None and self.spec.crop == "embryo":
            from edgegrade.runtime.tracking import RoiTracker

            self.tracker = RoiTracker()
        self.roles = list(self.manifest["modules"])
        kw = lambda p: {"provider": cfg.provider, "threads": cfg.threads} if p.suffix == ".onnx" else {}  # noqa: E731
        self.paths = {role: choose_backend(self.manifest, self.bundle, role, cfg.backend) for role in self.roles}
        self.backends = {role: open_backend(p, **kw(p)) for role, p in self.paths.items()}

    def __enter__(self):
        for b in self.backends.values():
            b.activate()
        return self

    def __exit__(self, *exc):
        for b in self.backends.values():
            b.deactivate()

    @property
    def backend_names(self) -> dict:
        return {r: getattr(b, "active_provider", "") or b.name for r, b in self.backends.items()}

    def provenance(self) -> dict:
        """What graded: the bundle (path, manifest hash), its task, kind and precision, and the
        model file each module ran, with its hash."""
        m = self.manifest
        return {"id": self.bundle_id, "sha256": self.bundle_sha256, "bundle": str(self.bundle.resolve()),
                "task": self.task.name, "kind": m.get("kind"), "precision": m.get("precision"),
                "edgegrade_version": m.get("edgegrade_version"), "backends": self.backend_names,
                "modules": {role: {"file": self.paths[role].name, "sha256": artifact_sha256(m, role, self.paths[role])}
                            for role in self.roles}}

    def reset(self):
        """Forget the history (unrelated stills): the smoothed grade and the tracked box."""
        self.smoother.reference = None
        if self.tracker is not None:
            self.tracker.reset()

    def locate(self, image: np.ndarray):
        """-> (roi or None, found): the box the models will see; found=False means no embryo."""
        if self.fixed_roi is not None:
            if image.shape[:2] != self.roi_checked:
                self.check_roi(*image.shape[:2])
            return self.fixed_roi, True
        if self.tracker is None:  # a whole-frame bundle
            return None, True
        roi = self.tracker.update(image)
        return roi, roi is not None

    def check_roi(self, h: int, w: int) -> None:
        """--roi against the frame: wholly outside is an error (the models would grade the
        padding), less than half inside a warning."""
        inside = self.fixed_roi.share_inside(h, w)
        if inside == 0:
            raise EdgegradeError(f"--roi {self.cfg.roi}: wholly outside the {w}x{h} frame")
        if inside < 0.5:
            self.warn(f"--roi {self.cfg.roi}: only {100 * inside:.0f}% of the box lies inside the {w}x{h} frame")
        self.roi_checked = (h, w)

    def process(self, frame: Frame) -> Result:
        t = {}
        t0 = time.perf_counter()
        scene_change = self.smoother.scene_changed(frame.image)
        if scene_change and self.tracker is not None:
            self.tracker.reset()  # a new dish or well: find the embryo afresh
        roi, found = self.locate(frame.image)
        if self.tracker is not None:
            t["localise"] = 1000 * (time.perf_counter() - t0)
        if not found:  # nothing to grade: no model runs, no made-up grade
            return self.empty(frame, scene_change, t)
        t0 = time.perf_counter()
        x, box = preprocess(frame.image, self.spec, self.normaliser, roi=roi)
        x = x[None]
        t["preprocess"] = 1000 * (time.perf_counter() - t0)
        outputs = {}
        for role, backend in self.backends.items():
            s = time.perf_counter()
            outputs[role] = backend.infer(x)
            t[role] = 1000 * (time.perf_counter() - s)
        t0 = time.perf_counter()
        product = combine(outputs)
        ratio = product.get("ratio")
        reading = self.task.read(product["masks"][0] if "masks" in product else None,
                                 None if ratio is None else float(ratio.reshape(-1)[0]), box.scale,
                                 self.smoother.update, self.cfg.review_threshold)
        result = Result(index=frame.index, name=frame.name, scene_change=scene_change, captured=frame.captured,
                        roi=None if roi is None else roi.to_dict(), **vars(reading), bundle=self.bundle_id,
                        masks=product["masks"][0] if "masks" in product else None, box=box,
                        fragment_contours=[] if reading.target is None else contours_on_frame(reading.target, box),
                        embryo_contours=[] if reading.region is None else contours_on_frame(reading.region, box,
                                                                                            largest=True))
        result.headline = self.task.headline(result)
        t["postprocess"] = 1000 * (time.perf_counter() - t0)
        result.timings = t
        return result

    def empty(self, frame: Frame, scene_change: bool, t: dict) -> Result:
        """Nothing in view to grade or count: no made-up figures."""
        result = Result(index=frame.index, name=frame.name, state=self.task.empty_state, scene_change=scene_change,
                        timings=t, captured=frame.captured, bundle=self.bundle_id)
        result.headline = self.task.headline(result)
        return result


def artifact_sha256(manifest: dict, role: str, path: Path) -> str | None:
    """The manifest's hash of the file a module runs (an artifact or an engine)."""
    mod = manifest["modules"][role]
    for entry in [*mod.get("artifacts", {}).values(), *mod.get("engines", {}).values()]:
        if Path(entry["file"]).name == path.name:
            return entry["sha256"]
    return None


def contours_on_frame(mask: np.ndarray, box, largest: bool = False) -> list[np.ndarray]:
    """Contours found in model space, mapped to frame coordinates (no full-size mask resize)."""
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if largest and found:
        found = [max(found, key=cv2.contourArea)]
    return [np.round(box.points_to_frame(c.reshape(-1, 2) + 0.5)).astype(np.int32) for c in found]
