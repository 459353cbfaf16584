"""The dual-module pipeline: find the embryo (tracked box, or --roi) -> preprocess with the
bundle's settings -> module A (assistant, mask) and module B (grader, ratio) -> contours
mapped back onto the frame -> grade from the grader, mask ratio beside it, review flag when
they disagree -> temporal smoothing. Oocyte bundles (SMANet) count inclusions instead."""

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgegrade.bundle import read_manifest
from edgegrade.errors import EdgegradeError
from edgegrade.grading import grade_of
from edgegrade.postprocess import binarise, count_instances, mask_ratio
from edgegrade.preprocess import Normaliser, PreprocessSpec, preprocess
from edgegrade.runtime.backends import open_backend
from edgegrade.runtime.smoothing import SceneSmoother
from edgegrade.runtime.sources import Frame

MIN_EMBRYO_SHARE = 0.005  # of the model input; below it there is no embryo to grade


@dataclass
class Result:
    index: int
    name: str
    state: str  # "graded" or "no-embryo"; oocytes: "analysed" or "no-oocyte"
    grade: str | None
    ratio: float | None  # smoothed grader ratio (the one the grade comes from)
    mask_ratio: float | None  # smoothed ratio read off the assistant's mask
    raw_ratio: float | None
    raw_mask_ratio: float | None
    review: bool
    scene_change: bool
    fragment_contours: list = field(default_factory=list)
    embryo_contours: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)  # milliseconds per stage
    captured: float = 0.0
    roi: dict | None = None  # the embryo box the models saw (frame pixels), when cropping
    inclusions: dict | None = None  # oocytes: count, area_px (frame pixels), share of the ooplasm

    @property
    def label(self) -> str:
        """What the frame came to: a grade, an inclusion count, or the state."""
        if self.inclusions is not None:
            return f"{self.inclusions['count']} inclusions"
        return self.grade or self.state

    def log_record(self) -> dict:
        r = lambda v: None if v is None else round(v, 5)  # noqa: E731
        return {"time": time.time(), "frame": self.index, "name": self.name, "state": self.state,
                "grade": self.grade, "ratio": r(self.ratio), "mask_ratio": r(self.mask_ratio),
                "raw_ratio": r(self.raw_ratio), "raw_mask_ratio": r(self.raw_mask_ratio),
                "review": self.review, "scene_change": self.scene_change, "roi": self.roi,
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
    def __init__(self, bundle, backend: str = "auto", provider: str = "auto", review_threshold: float = 0.10,
                 smooth: int = 15, allow_undeployable: bool = False, threads: int = 0, roi=None):
        self.bundle = Path(bundle)
        self.manifest = read_manifest(self.bundle)
        if not self.manifest.get("deployable") and not allow_undeployable:
            raise EdgegradeError(f"{self.bundle}: marked not deployable (its accuracy gate failed); see report.md")
        if backend not in ("auto", "onnxruntime", "tensorrt"):
            raise EdgegradeError(f"--backend {backend}: choose auto, onnxruntime or tensorrt")
        self.spec = PreprocessSpec.from_dict(self.manifest["preprocess"])
        self.normaliser = Normaliser(self.spec)
        self.review_threshold = review_threshold
        self.smoother = SceneSmoother(smooth)
        self.fixed_roi = roi  # --roi: the user's box, never searched
        self.tracker = None
        if roi is None and self.spec.crop == "embryo":
            from edgegrade.runtime.tracking import RoiTracker

            self.tracker = RoiTracker()
        self.roles = list(self.manifest["modules"])
        self.task = self.manifest.get("task", "embryo-fragmentation")
        kw = lambda p: {"provider": provider, "threads": threads} if p.suffix == ".onnx" else {}  # noqa: E731
        paths = {role: choose_backend(self.manifest, self.bundle, role, backend) for role in self.roles}
        self.backends = {role: open_backend(p, **kw(p)) for role, p in paths.items()}

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

    def reset(self):
        """Forget the history (unrelated stills): the smoothed grade and the tracked box."""
        self.smoother.reference = None
        if self.tracker is not None:
            self.tracker.reset()

    def locate(self, image: np.ndarray):
        """-> (roi or None, found): the box the models will see; found=False means no embryo."""
        if self.fixed_roi is not None:
            return self.fixed_roi, True
        if self.tracker is None:  # a whole-frame bundle
            return None, True
        roi = self.tracker.update(image)
        return roi, roi is not None

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
        t1 = time.perf_counter()
        t["preprocess"] = 1000 * (t1 - t0)
        outputs = {}
        for role, backend in self.backends.items():
            s = time.perf_counter()
            outputs[role] = backend.infer(x)
            t[role] = 1000 * (time.perf_counter() - s)
        t2 = time.perf_counter()
        if self.task == "oocyte-inclusions":
            result = self.inclusions(frame, outputs[self.roles[0]]["masks"][0], box, scene_change, t, roi)
            t["postprocess"] = 1000 * (time.perf_counter() - t2)
            return result
        mask_src = outputs.get("assistant") or outputs[self.roles[0]]
        ratio_src = outputs.get("grader") or outputs[self.roles[0]]
        frag, emb = binarise(mask_src["masks"][0]) if "masks" in mask_src else (None, None)
        raw_ratio = float(ratio_src["ratio"].reshape(-1)[0])
        raw_mask_ratio = mask_ratio(frag, emb) if frag is not None else None
        embryo_share = emb.mean() if emb is not None else 1.0
        fragment_contours, embryo_contours = [], []
        if embryo_share < MIN_EMBRYO_SHARE:
            state, grade, ratio, m_ratio, review = "no-embryo", None, None, None, False
        else:
            ratio, m_ratio = self.smoother.update(raw_ratio, raw_mask_ratio)
            grade = grade_of(ratio)
            state = "graded"
            review = m_ratio is not None and abs(ratio - m_ratio) > self.review_threshold
            if frag is not None:
                fragment_contours = contours_on_frame(frag, box)
                embryo_contours = contours_on_frame(emb, box, largest=True)
        t["postprocess"] = 1000 * (time.perf_counter() - t2)
        return Result(frame.index, frame.name, state, grade, ratio, m_ratio, raw_ratio, raw_mask_ratio, review,
                      scene_change, fragment_contours, embryo_contours, t, frame.captured,
                      None if roi is None else roi.to_dict())

    def empty(self, frame: Frame, scene_change: bool, t: dict) -> Result:
        """Nothing in view to grade or count: no made-up figures."""
        state = "no-oocyte" if self.task == "oocyte-inclusions" else "no-embryo"
        return Result(frame.index, frame.name, state, None, None, None, None, None, False, scene_change,
                      timings=t, captured=frame.captured)

    def inclusions(self, frame: Frame, probs: np.ndarray, box, scene_change: bool, t: dict, roi=None) -> Result:
        """An SMANet oocyte bundle: inclusions counted and measured in the ooplasm, no grade."""
        spots, ooplasm = binarise(probs)
        ooplasm = oocyte_region(ooplasm)
        if ooplasm.mean() < MIN_EMBRYO_SHARE:
            return self.empty(frame, scene_change, t)
        spots &= ooplasm  # an inclusion lies in the oocyte: dark specks in the medium are not counted
        count, area = count_instances(spots)
        share = float(mask_ratio(spots, ooplasm))
        info = {"count": count, "area_px": round(area / box.scale ** 2, 1), "share": round(share, 5)}
        return Result(frame.index, frame.name, "analysed", None, None, share, None, share, False, scene_change,
                      contours_on_frame(spots, box), contours_on_frame(ooplasm, box, largest=True), t,
                      frame.captured, None if roi is None else roi.to_dict(), inclusions=info)


def oocyte_region(mask: np.ndarray) -> np.ndarray:
    """The convex hull of the largest region of an ooplasm mask: an oocyte is convex, and the
    hull keeps inclusions that a ragged predicted outline would cut off."""
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.zeros(mask.shape, np.uint8)
    if found:
        cv2.drawContours(out, [cv2.convexHull(max(found, key=cv2.contourArea))], -1, 1, -1)
    return out.astype(bool)


def contours_on_frame(mask: np.ndarray, box, largest: bool = False) -> list[np.ndarray]:
    """Contours found in model space, mapped to frame coordinates (no full-size mask resize)."""
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if largest and found:
        found = [max(found, key=cv2.contourArea)]
    return [np.round(box.points_to_frame(c.reshape(-1, 2) + 0.5)).astype(np.int32) for c in found]
