"""The folder format every stage reads, its checker and embryo-level splits.

    DIR/images/NAME.png|jpg|tif   the frames
    DIR/masks/NAME.png            label map (0 background, 1 cell, 2 fragment): a paired sample
    DIR/labels.csv                optional: image,grade,ratio,embryo_id (any of grade/ratio);
                                  rows for images without a mask are grade-only samples

Embryo ids come from labels.csv, else from the name by the time-lapse name patterns
(`edgegrade.timelapse`: `..._WELL06_RUN141` -> `..._WELL06`), so time-lapse frames of one
embryo share a split.
"""

import csv
import hashlib
import io
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgegrade.errors import DataError, EdgegradeError
from edgegrade.files import atomic_file, atomic_write_bytes, make_dir, staged
from edgegrade.grading import GRADE_NAMES, fragment_ratio, grade_of, interval, parse_grade
from edgegrade.imageio import is_image, read_image, read_label_map
from edgegrade.timelapse import parse_name

SPLITS = ("train", "val", "test")


def default_embryo_id(name: str) -> str:
    found = parse_name(name)
    return found.embryo if found else name


@dataclass
class Sample:
    name: str
    image: Path
    mask: Path | None = None
    grade: str | None = None
    ratio: float | None = None  # from labels.csv; paired samples read it off the mask
    embryo_id: str = ""

    @property
    def paired(self) -> bool:
        return self.mask is not None

    def target_interval(self) -> tuple[float, float]:
        """Ratio interval for the range loss (a point interval when the ratio is known)."""
        if self.ratio is not None:
            return self.ratio, self.ratio
        return interval(self.grade)


@dataclass
class Dataset:
    root: Path
    samples: list[Sample]
    problems: list[str] = field(default_factory=list)

    @property
    def paired(self) -> list[Sample]:
        return [s for s in self.samples if s.paired]

    @property
    def grade_only(self) -> list[Sample]:
        return [s for s in self.samples if not s.paired]


def _csv_text(path: Path) -> str:
    """labels.csv as text (UTF-8, a BOM allowed); any other encoding is an error naming the
    file and line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8 CSV") from None


def _read_labels_csv(path: Path, problems: list[str]) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    try:
        text = _csv_text(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames or "image" not in reader.fieldnames:
            raise DataError(f"{path}: needs a header with an 'image' column (and grade and/or ratio)")
        for line, row in enumerate(reader, start=2):
            name = Path((row.get("image") or "").strip()).stem
            where = f"{path}:{line}"
            if not name:
                problems.append(f"{where}: empty image name")
                continue
            if name in rows:
                problems.append(f"{where}: duplicate row for {name}")
                continue
            entry = {"embryo_id": (row.get("embryo_id") or "").strip()}
            grade, ratio = (row.get("grade") or "").strip(), (row.get("ratio") or "").strip()
            try:
                entry["grade"] = parse_grade(grade) if grade else None
            except EdgegradeError:
                problems.append(f"{where}: unknown grade {grade!r} (expected {'/'.join(GRADE_NAMES)})")
                continue
            if ratio:
                try:
                    entry["ratio"] = float(ratio)
                except ValueError:
                    entry["ratio"] = -1.0
                if not 0.0 <= entry["ratio"] <= 1.0:
                    problems.append(f"{where}: ratio {ratio!r} is not a number in [0, 1]")
                    continue
            rows[name] = entry
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not a readable CSV ({exc})") from None
    return rows


def scan(root) -> Dataset:
    """Index a dataset folder without reading pixels; problems are collected, not raised."""
    root = Path(root)
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir():
        raise DataError(f"{root}: no images/ folder (expected DIR/images, DIR/masks, DIR/labels.csv)")
    problems: list[str] = []
    labels = _read_labels_csv(root / "labels.csv", problems) if (root / "labels.csv").exists() else {}
    images: dict[str, Path] = {}
    for path in sorted(images_dir.iterdir()):
        if path.name.startswith("."):
            continue
        if not is_image(path):
            problems.append(f"{path}: not an image file (skipped)")
        elif path.stem in images:
            problems.append(f"{path}: duplicate name, also {images[path.stem].name}")
        else:
            images[path.stem] = path
    masks = {p.stem: p for p in masks_dir.glob("*.png")} if masks_dir.is_dir() else {}
    samples = []
    for name, path in images.items():
        row = labels.get(name, {})
        sample = Sample(name, path, masks.get(name), row.get("grade"), row.get("ratio"),
                        row.get("embryo_id") or default_embryo_id(name))
        if not sample.paired and sample.grade is None and sample.ratio is None:
            problems.append(f"{path}: no mask in masks/ and no grade or ratio in labels.csv")
            continue
        samples.append(sample)
    problems += [f"{masks[n]}: mask without an image in images/" for n in sorted(set(masks) - set(images))]
    problems += [f"{root / 'labels.csv'}: row for {n} but no such image" for n in sorted(set(labels) - set(images))]
    return Dataset(root, samples, problems)


def first_problem(problems: list[str], root) -> DataError:
    more = f" (and {len(problems) - 1} more; run `edgegrade data check {root}`)" if len(problems) > 1 else ""
    return DataError(problems[0] + more)


def load(root, require_paired: bool = False) -> Dataset:
    """scan() that fails on the first problem or on an empty dataset."""
    ds = scan(root)
    if ds.problems:
        raise first_problem(ds.problems, root)
    if not ds.samples:
        raise DataError(f"{root}: empty dataset (no labelled images)")
    if require_paired and not ds.paired:
        raise DataError(f"{root}: no paired samples (image + mask); segmentation training needs some")
    return ds


MIN_SIDE = 16  # pixels: a smaller image cannot show an embryo (a 1x1 file is a broken export)


def read_sample(s: Sample) -> float | None:
    """Read a sample's image (and label map) as training will, checking what the loaders
    cannot: -> the ratio its mask gives (None for grade-only). Raises DataError naming the file."""
    image = read_image(s.image)
    if min(image.shape[:2]) < MIN_SIDE:
        raise DataError(f"{s.image}: {image.shape[1]}x{image.shape[0]} px, below the {MIN_SIDE} px minimum side")
    return fragment_ratio(read_label_map(s.mask, image.shape)) if s.paired else None


def check_samples(samples: list[Sample], root) -> None:
    """Every image and mask read once before training starts: the first bad one is a one-line
    error here, not a DataLoader worker's traceback an epoch later."""
    problems = []
    for s in samples:
        try:
            read_sample(s)
        except DataError as exc:
            problems.append(str(exc))
    if problems:
        raise first_problem(problems, root)


def check(root) -> dict:
    """Read every file and report counts, ratio/grade histogram and every problem."""
    ds = scan(root)
    problems = list(ds.problems)
    if not ds.samples:
        problems.append(f"{ds.root}: empty dataset (no labelled images)")
    ratios, grades = [], Counter()
    for s in ds.samples:
        try:
            ratio = read_sample(s)
        except DataError as exc:
            problems.append(str(exc))
            continue
        if ratio is not None:
            ratios.append(ratio)
        grades[grade_of(ratio) if ratio is not None else s.grade or grade_of(s.ratio)] += 1
    hist, edges = np.histogram(ratios, bins=10, range=(0, 1))
    return {
        "root": str(ds.root), "images": len(ds.samples), "paired": len(ds.paired),
        "grade_only": len(ds.grade_only), "embryos": len({s.embryo_id for s in ds.samples}),
        "grades": {g: grades.get(g, 0) for g in GRADE_NAMES},
        "ratio_histogram": {f"{edges[i]:.1f}-{edges[i + 1]:.1f}": int(c) for i, c in enumerate(hist)},
        "problems": problems,
    }


@contextmanager
def new_dataset(out, overwrite: bool = False):
    """Yield a temp folder (with images/ and masks/) to fill; it becomes `out` in one rename
    when the block ends, and is removed on any failure, so a half-written dataset is never
    left where `data check` or `train` would take it for a whole one. An `out` that already
    holds files is replaced only with `overwrite`."""
    out = Path(out)
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not overwrite):
        raise EdgegradeError(f"--out {out}: exists and is not empty; choose another --out or add --overwrite")
    with staged(out) as stage:
        for sub in ("images", "masks"):
            make_dir(stage.folder / sub)
        yield stage.folder


def write_labels_csv(root, rows: list[dict]) -> None:
    """DIR/labels.csv from rows of image, grade, ratio, embryo_id (what the writers of
    synthetic and generated data share)."""
    with atomic_file(Path(root) / "labels.csv", "w") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "grade", "ratio", "embryo_id"])
        writer.writeheader()
        writer.writerows(rows)


def _unit_hash(text: str) -> float:
    return int(hashlib.sha1(text.encode()).hexdigest()[:12], 16) / 16**12


def split_by_embryo(samples: list[Sample], val: float = 0.15, test: float = 0.15,
                    seed: int = 0) -> dict[str, list[Sample]]:
    """Deterministic split by embryo id: all frames of one embryo land in one split.

    Embryos are ordered by a seeded hash and cut by cumulative fraction; with >= 3 embryos
    val and test each get at least one."""
    ids = sorted({s.embryo_id for s in samples}, key=lambda e: _unit_hash(f"{seed}:{e}"))
    n = len(ids)
    n_val = max(1 if n >= 3 else 0, round(n * val)) if val > 0 else 0
    n_test = max(1 if n >= 3 else 0, round(n * test)) if test > 0 else 0
    which = {e: ("val" if i < n_val else "test" if i < n_val + n_test else "train")
             for i, e in enumerate(ids)}
    out = {k: [] for k in SPLITS}
    for s in samples:
        out[which[s.embryo_id]].append(s)
    return out


def run_splits(samples: list[Sample], val: float, test: float, seed: int, test_data=None,
               require_paired: bool = False) -> dict[str, list[Sample]]:
    """The splits a training run used (train, export and evaluate must agree): embryo-level
    train/val/test of its data, or, with a fixed test set (`test_data`), train/val of the data
    and that whole set as test."""
    if not test_data:
        return split_by_embryo(samples, val, test, seed)
    splits = split_by_embryo(samples, val, 0.0, seed)
    splits["test"] = load(test_data, require_paired=require_paired).samples
    return splits


SPLITS_FILE = "splits.json"  # beside a run: which images each split holds


def write_splits(run, splits: dict[str, list[Sample]], data, test_data=None) -> None:
    """The record holds absolute data paths: export and evaluate may run from another folder."""
    record = {"data": str(Path(data).resolve()), "test_data": str(Path(test_data).resolve()) if test_data else None,
              "splits": {k: [s.name for s in v] for k, v in splits.items()}}
    atomic_write_bytes(Path(run) / SPLITS_FILE, json.dumps(record).encode())


def splits_of(run) -> dict[str, list[Sample]]:
    """The splits a training run used, as it recorded them (OUT/splits.json); train, export
    and evaluate read this one record. A run with no record is split again from its config."""
    run = Path(run)
    try:
        cfg = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        raise DataError(f"{run}: not a training run (no readable config.json)") from None
    data, test_data = cfg.get("data") or str(run / "data"), cfg.get("test_data")
    path = run / SPLITS_FILE
    if not path.is_file():
        return run_splits(load(data).samples, cfg["val_fraction"], cfg["test_fraction"], cfg["seed"], test_data)
    try:
        stored = json.loads(path.read_text())
    except ValueError:
        raise DataError(f"{path}: corrupt split record") from None
    names = stored.get("splits", stored)  # runs before the record held data paths: names only
    if "splits" in stored:
        data, test_data = stored["data"], stored["test_data"]
    pools = {"data": {s.name: s for s in load(data).samples}}
    pools["test"] = {s.name: s for s in load(test_data).samples} if test_data else pools["data"]
    out = {}
    for split in SPLITS:
        pool = pools["test" if split == "test" else "data"]
        missing = [n for n in names.get(split, []) if n not in pool]
        if missing:
            raise DataError(f"{path}: {missing[0]} ({split}) is no longer in {test_data if split == 'test' and test_data else data}")
        out[split] = [pool[n] for n in names.get(split, [])]
    return out
