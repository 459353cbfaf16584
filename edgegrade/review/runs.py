"""A `watch` or `grade` output folder -> its embryos, each a series of results over time.

`watch` folders: grades.jsonl (or the log summary.json names), one record per frame naming its
`embryo` and `run` (logs from before the embryo was logged: one embryo per scene, counted the
same way), timed by the frame's name where it gives a time (a folder of time-lapse frames),
else by the wall clock, in seconds from the embryo's first frame; its latest picture is the
last snapshot taken while it was in view (`watch` saves one as an embryo leaves).
`grade` folders: grades.json, one row per image naming its embryo and time (from the file
name, edgegrade.timelapse; else the image is an embryo of its own); its picture is the overlay
of its latest image. Both: OUT/models/ID.json describes each bundle id the results name."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgegrade.errors import DataError, EdgegradeError
from edgegrade.files import read_json
from edgegrade.timelapse import EmbryoIds, parse_name

MAX_POINTS = 2000  # per embryo in the report: a day of live frames is thinned evenly to this
SNAPSHOT = re.compile(r"(?:(?P<run>.+)_)?frame(?P<frame>\d+)_(?P<reason>.+)_overlay\.png")


@dataclass
class Point:
    """One result: when (in the embryo's unit), what was graded and by which bundle."""

    t: float
    state: str
    grade: str | None
    ratio: float | None
    mask_ratio: float | None
    review: bool
    bundle: str
    frame: str  # the frame number (watch) or image name (grade)
    run: str = ""


@dataclass
class Embryo:
    id: str
    unit: str  # "s" (seconds from its first frame), "run", "h", "frame", or "" (one still, no time)
    points: list[Point] = field(default_factory=list)
    overlay: Path | None = None  # its latest picture with the overlay

    @property
    def graded(self) -> list[Point]:
        return [p for p in self.points if p.grade is not None]

    @property
    def latest(self) -> Point | None:
        graded = self.graded
        return graded[-1] if graded else None

    def timeline(self) -> list[dict]:
        """Runs of one grade: [{"grade", "from", "to", "frames"}], in time order."""
        spans = []
        for p in self.graded:
            if spans and spans[-1]["grade"] == p.grade:
                spans[-1].update(to=p.t, frames=spans[-1]["frames"] + 1)
            else:
                spans.append({"grade": p.grade, "from": p.t, "to": p.t, "frames": 1})
        return spans

    def thinned(self, n: int = MAX_POINTS) -> list[Point]:
        if len(self.points) <= n:
            return self.points
        step = (len(self.points) - 1) / (n - 1)
        return [self.points[round(i * step)] for i in range(n)]


@dataclass
class RunFolder:
    kind: str  # "watch" or "grade"
    folder: Path
    embryos: dict  # id -> Embryo, in order of first appearance
    bundles: dict  # bundle id -> what it is (OUT/models/ID.json), or {} where that file is missing
    skipped: list = field(default_factory=list)  # lines or rows that could not be read, said why


def read_run(folder) -> RunFolder:
    folder = Path(folder)
    if not folder.is_dir():
        raise EdgegradeError(f"{folder}: no such folder (give a `watch --out` or `grade --out` folder)")
    log = watch_log(folder)
    if log is not None:
        run = read_watch(folder, log)
    elif (folder / "grades.json").is_file():
        run = read_grade(folder)
    else:
        raise EdgegradeError(f"{folder}: neither a `watch` folder (grades.jsonl) nor a `grade` folder (grades.json)")
    if not run.embryos:
        raise EdgegradeError(f"{folder}: no embryo was graded in it (nothing to report)")
    run.bundles = read_bundles(folder, {p.bundle for e in run.embryos.values() for p in e.points if p.bundle})
    return run


def watch_log(folder: Path) -> Path | None:
    if (folder / "grades.jsonl").is_file():
        return folder / "grades.jsonl"
    try:
        log = json.loads((folder / "summary.json").read_text()).get("log")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(log) if log and Path(log).is_file() else None


def read_watch(folder: Path, log: Path) -> RunFolder:
    embryos, skipped, where = {}, [], {}
    counters: dict[str, EmbryoIds] = {}  # per run, for logs from before the embryo was logged
    starts: dict[str, float] = {}
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        raise DataError(f"{log}: cannot read ({exc})") from None
    for n, line in enumerate(lines, 1):
        try:
            r = json.loads(line)
            run, state = str(r.get("run", "")), r["state"]
            if "embryo" in r:
                embryo = r["embryo"]
            else:
                ids = counters.setdefault(run, EmbryoIds(run))
                embryo, _ = ids.assign(r.get("name", ""), bool(r.get("scene_change")), r.get("grade") is not None)
            if embryo is None:
                continue
            if "timepoint" in r:
                t, unit = float(r["timepoint"]), r.get("time_unit", "")
            else:
                start = starts.setdefault(embryo, float(r["time"]))
                t, unit = round(float(r["time"]) - start, 3), "s"
            point = Point(t, state, r.get("grade"), r.get("ratio"), r.get("mask_ratio"), bool(r.get("review")),
                          r.get("bundle", ""), str(r.get("frame", "")), run)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            skipped.append(f"{log}: line {n} is not a result record ({type(exc).__name__}: {exc})")
            continue
        embryos.setdefault(embryo, Embryo(embryo, unit)).points.append(point)
        where[(run, point.frame)] = embryo
    for e in embryos.values():
        e.points.sort(key=lambda p: p.t)
    latest_snapshots(folder / "snapshots", embryos, where)
    return RunFolder("watch", folder, embryos, {}, skipped)


def latest_snapshots(snapshots: Path, embryos: dict, where: dict) -> None:
    """Each embryo's last overlay snapshot (by run, then frame)."""
    if not snapshots.is_dir():
        return
    runs_of_frame: dict[str, list] = {}
    for run, frame in where:
        runs_of_frame.setdefault(frame, []).append(run)
    best: dict = {}
    for path in snapshots.iterdir():
        m = SNAPSHOT.fullmatch(path.name)
        if not m:
            continue
        frame = str(int(m["frame"]))
        run = m["run"]
        if run is None:  # named before snapshots carried their run: only where one run has the frame
            candidates = runs_of_frame.get(frame, [])
            if len(candidates) != 1:
                continue
            run = candidates[0]
        embryo = where.get((run, frame))
        if embryo is not None and (embryo not in best or (run, int(frame)) > best[embryo][0]):
            best[embryo] = ((run, int(frame)), path)
    for embryo, (_, path) in best.items():
        embryos[embryo].overlay = path


def read_grade(folder: Path) -> RunFolder:
    path = folder / "grades.json"
    rows = read_json(path, "list of graded images (what `grade` writes)", list)
    embryos, skipped, order = {}, [], {}
    for n, row in enumerate(rows, 1):
        try:
            image = Path(row["image"])
            named = parse_name(image.name)
            embryo = row.get("embryo") or (named.embryo if named else image.stem)
            t = row.get("timepoint", named.time if named else None)
            unit = row.get("time_unit") or (named.unit if named else "")
            if row["state"] == "unreadable":
                skipped.append(f"{image}: could not be read when graded ({row.get('error', '')})")
                continue
            e = embryos.setdefault(embryo, Embryo(embryo, unit))
            order[embryo] = order.get(embryo, -1) + 1
            point = Point(float(t) if t is not None else float(order[embryo]), row["state"], row.get("grade"),
                          row.get("ratio"), row.get("mask_ratio"), bool(row.get("review")), row.get("bundle") or "",
                          image.name)
        except (KeyError, TypeError, ValueError) as exc:
            skipped.append(f"{path}: row {n} is not a graded image ({type(exc).__name__}: {exc})")
            continue
        e.points.append(point)
    for e in embryos.values():
        e.points.sort(key=lambda p: p.t)
        overlays = (folder / f"{Path(p.frame).stem}_overlay.png" for p in reversed(e.points))
        e.overlay = next((o for o in overlays if o.is_file()), None)
    return RunFolder("grade", folder, embryos, {}, skipped)


def read_bundles(folder: Path, ids: set) -> dict:
    out = {}
    for bundle_id in sorted(ids):
        try:
            out[bundle_id] = json.loads((folder / "models" / f"{bundle_id}.json").read_text())
        except (OSError, ValueError):
            out[bundle_id] = {}
    return out
