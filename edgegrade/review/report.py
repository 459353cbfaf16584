"""`edgegrade report RUN_DIR --out REPORT` and `edgegrade confirm REPORT ...`.

REPORT is a folder that belongs to one run folder:

    report.json     what the report shows: per embryo its results over time (thinned to
                    runs.MAX_POINTS), grade timeline, REVIEW flags, bundles; the run folder it came from
    overlays/       each embryo's latest picture (JPEG), so the report outlives the run folder
    report.html     one self-contained page (pictures and plots inside it): opens offline, prints
    embryos.csv     one row per embryo: AI grade and ratios, REVIEW, confirmed grade, bundle
    timeline.csv    one row per result: embryo, time, grade, ratios, REVIEW
    audit.jsonl     the embryologists' decisions, hash-chained (review.audit); audit.head

`report` writes the first five (again, from the same run folder, as it grows) and never
touches the audit log; `confirm` checks the log, appends a decision and writes the page and
the CSV again. Every file is written through a temp file and a rename, the page last, so a
failure leaves the last good page. A log that does not verify is said on the page, in red, and
by the exit code (4)."""

import csv
import getpass
import hashlib
import json
import re
import socket
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from edgegrade import __version__
from edgegrade.errors import AuditBroken, DataError, EdgegradeError
from edgegrade.files import atomic_file, atomic_write_bytes, atomic_write_text, make_dir, read_json
from edgegrade.grading import GRADE_NAMES, parse_grade
from edgegrade.imageio import read_image
from edgegrade.metrics import confusion_matrix, quadratic_kappa
from edgegrade.review.audit import AuditLog
from edgegrade.review.runs import read_run

DATA, PAGE, EMBRYOS_CSV, TIMELINE_CSV, OVERLAYS = "report.json", "report.html", "embryos.csv", "timeline.csv", "overlays"
OVERLAY_WIDTH = 720  # px: the picture kept per embryo
REPORT_SCHEMA = 1


def make_report(run_dir, out) -> tuple[dict, dict]:
    """Read the run folder, keep what the report shows in OUT, write the page; -> (the data,
    the state of its decisions)."""
    run = read_run(run_dir)
    out = Path(out)
    check_report_folder(out, run.folder)
    make_dir(out / OVERLAYS)
    embryos = []
    for e in run.embryos.values():
        latest = e.latest
        overlay = keep_overlay(e.overlay, out / OVERLAYS / f"{safe_name(e.id)}.jpg") if e.overlay else None
        embryos.append({
            "id": e.id, "unit": e.unit, "frames": len(e.points), "graded": len(e.graded),
            "review_frames": sum(p.review for p in e.graded), "timeline": e.timeline(),
            "ai_grade": latest.grade if latest else None, "ai_ratio": latest.ratio if latest else None,
            "ai_mask_ratio": latest.mask_ratio if latest else None, "ai_review": latest.review if latest else None,
            "bundle": latest.bundle if latest else (e.points[-1].bundle if e.points else ""),
            "first": e.points[0].t, "last": e.points[-1].t, "overlay": overlay,
            "points": [asdict(p) for p in e.thinned()], "thinned": len(e.points) > len(e.thinned()),
        })
    data = {"schema": REPORT_SCHEMA, "source": str(run.folder.resolve()), "kind": run.kind,
            "made": now(), "edgegrade_version": __version__, "bundles": run.bundles, "skipped": run.skipped,
            "embryos": embryos}
    atomic_write_text(out / DATA, json.dumps(data, indent=1))
    return data, render(out)


def check_report_folder(out: Path, source: Path) -> None:
    """OUT is new, empty, or a report of this same run folder (its audit log stays with it)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise EdgegradeError(f"--out {out}: a file, not a folder")
    if (out / DATA).is_file():
        made_from = load(out).get("source")
        if made_from and Path(made_from) != source.resolve():
            raise EdgegradeError(f"--out {out}: the report of {made_from}, with its own audit log; "
                                 f"a report of {source} goes in another folder")
    elif any(out.iterdir()):
        raise EdgegradeError(f"--out {out}: holds files but no {DATA}; give a new or empty folder")


def load(report) -> dict:
    path = Path(report) / DATA
    if not path.is_file():
        raise EdgegradeError(f"{report}: not a report folder (no {DATA}); make one with `edgegrade report RUN_DIR "
                             f"--out {report}`")
    data = read_json(path, "report", dict)
    if not isinstance(data.get("embryos"), list):
        raise DataError(f"{path}: not a report (no list of embryos)")
    return data


def keep_overlay(src: Path, dst: Path) -> str | None:
    """The embryo's picture, shrunk to OVERLAY_WIDTH, as JPEG in the report folder."""
    try:
        image = read_image(src, cv2.IMREAD_COLOR)
    except DataError:
        return None
    if image.shape[1] > OVERLAY_WIDTH:
        image = cv2.resize(image, (OVERLAY_WIDTH, round(image.shape[0] * OVERLAY_WIDTH / image.shape[1])),
                           interpolation=cv2.INTER_AREA)
    atomic_write_bytes(dst, cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return f"{OVERLAYS}/{dst.name}"


def safe_name(embryo: str) -> str:
    """A file name for an embryo id (ids come from file names and may hold anything)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", embryo)[:80] + "-" + hashlib.sha256(embryo.encode()).hexdigest()[:8]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def decisions(records: list[dict]) -> dict:
    """embryo id -> its latest decision (a later confirm supersedes; all stay in the log)."""
    latest = {}
    for r in records:
        latest[r.get("embryo")] = r
    return latest


def agreement(pairs: list[tuple[str, str]]) -> dict:
    """(AI grade, confirmed grade) pairs -> exact and within-one agreement, quadratic kappa
    (None for a single pair: chance agreement is not defined by one)."""
    if not pairs:
        return {"n": 0}
    ai = np.array([GRADE_NAMES.index(a) for a, _ in pairs])
    human = np.array([GRADE_NAMES.index(h) for _, h in pairs])
    return {"n": len(pairs), "exact": float(np.mean(ai == human)), "within_one": float(np.mean(abs(ai - human) <= 1)),
            "kappa": quadratic_kappa(confusion_matrix(human, ai)) if len(pairs) > 1 else None}


def render(out) -> dict:
    """The page and the CSVs from report.json and the audit log; -> the state shown."""
    from edgegrade.review.page import page

    out = Path(out)
    data = load(out)
    records, problems = AuditLog(out).read()
    latest = decisions(records)
    pairs = [(e["ai_grade"], latest[e["id"]]["grade"]) for e in data["embryos"]
             if e["id"] in latest and e["ai_grade"] in GRADE_NAMES]
    state = {"records": records, "problems": problems, "decisions": latest, "agreement": agreement(pairs),
             "head": AuditLog(out).head()}
    write_csvs(out, data, latest)
    atomic_write_text(out / PAGE, page(data, state, out))
    return state


def write_csvs(out: Path, data: dict, latest: dict) -> None:
    with atomic_file(out / EMBRYOS_CSV, "w") as f:
        w = csv.writer(f)
        w.writerow(["embryo", "frames", "graded", "first", "last", "time_unit", "ai_grade", "ai_ratio", "ai_mask_ratio",
                    "review_frames", "grade_timeline", "confirmed_grade", "confirmed_by", "confirmed_at", "note",
                    "bundle", "overlay"])
        for e in data["embryos"]:
            d = latest.get(e["id"], {})
            w.writerow([e["id"], e["frames"], e["graded"], e["first"], e["last"], e["unit"], e["ai_grade"] or "",
                        e["ai_ratio"], e["ai_mask_ratio"], e["review_frames"], timeline_text(e), d.get("grade", ""),
                        d.get("by", ""), d.get("time", ""), d.get("note", ""), e["bundle"], e["overlay"] or ""])
    with atomic_file(out / TIMELINE_CSV, "w") as f:
        w = csv.writer(f)
        w.writerow(["embryo", "time", "time_unit", "frame", "run", "state", "grade", "ratio", "mask_ratio", "review",
                    "bundle"])
        for e in data["embryos"]:
            for p in e["points"]:
                w.writerow([e["id"], p["t"], e["unit"], p["frame"], p["run"], p["state"], p["grade"] or "", p["ratio"],
                            p["mask_ratio"], int(p["review"]), p["bundle"]])


def timeline_text(e: dict) -> str:
    """'A 141-156; B 221-222': the grade over time."""
    def fmt(t):
        return f"{t:g}"
    return "; ".join(f"{s['grade']} {fmt(s['from'])}" + (f"-{fmt(s['to'])}" if s["to"] != s["from"] else "")
                     for s in e["timeline"])


def confirm(report, embryo: str, grade: str, by: str, note: str = "") -> dict:
    """Record an embryologist's decision for one embryo, then show it on the page."""
    data = load(report)
    known = {e["id"]: e for e in data["embryos"]}
    if embryo not in known:
        listed = ", ".join(list(known)[:5]) + (", ..." if len(known) > 5 else "")
        raise EdgegradeError(f"--embryo {embryo}: not in {report} (its embryos: {listed})")
    try:
        grade = parse_grade(grade)
    except EdgegradeError:
        raise EdgegradeError(f"--grade {grade}: expected one of {', '.join(GRADE_NAMES)}") from None
    if not by.strip():
        raise EdgegradeError("--by: the embryologist's name is required")
    e = known[embryo]
    record = AuditLog(report).append({
        "time": now(), "embryo": embryo, "grade": grade, "by": by.strip(), "note": note.strip(),
        "account": f"{getpass.getuser()}@{socket.gethostname()}", "ai_grade": e["ai_grade"],
        "ai_ratio": e["ai_ratio"], "bundle": e["bundle"], "report_made": data["made"]})
    try:
        render(report)
    except EdgegradeError as exc:
        raise EdgegradeError(f"decision {record['seq']} is recorded in {AuditLog(report).path}, but the page could not "
                             f"follow: {exc.message}; `edgegrade report` again shows it") from None
    return record


def raise_if_broken(report, state: dict) -> None:
    if state["problems"]:
        more = len(state["problems"]) - 1
        raise AuditBroken(f"{state['problems'][0]}" + (f" ({more} more problem(s))" if more else "")
                          + f"; {Path(report) / PAGE} says so")

