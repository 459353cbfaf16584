"""`edgegrade report` and `edgegrade confirm` on run folders written as `watch` and `grade`
write them (the end-to-end runs with a model are in tests/runtime/test_lab_loop.py)."""

import csv
import json
import re
import threading

import cv2
import numpy as np
import pytest
from badinput import assert_one_line, run_cli, tree

from edgegrade.review.audit import AuditLog
from edgegrade.review.report import agreement, confirm

BUNDLE = "0123456789abcdef"


def _record(run, frame, embryo, grade, ratio, t, review=False, scene_change=False, **kw):
    return {"schema": 4, "time": t, "frame": frame, "name": f"synthetic{frame}", "state": "graded" if grade else "no-embryo",
            "grade": grade, "ratio": ratio, "mask_ratio": None if ratio is None else ratio + 0.02, "review": review,
            "scene_change": scene_change, "roi": None, "embryo": embryo, "bundle": BUNDLE, "run": run,
            "latency_ms": {}, **kw}


@pytest.fixture
def watch_dir(tmp_path):
    """Two runs into one folder: run R1 sees embryo E1 (A then B), an empty well, E2 (C); run R2
    sees its own E1 (D). Snapshots as `watch` names them; the bundle described in models/."""
    out = tmp_path / "watch"
    (out / "snapshots").mkdir(parents=True)
    (out / "models").mkdir()
    (out / "models" / f"{BUNDLE}.json").write_text(json.dumps({"id": BUNDLE, "kind": "dual", "precision": "fp16",
                                                                "bundle": "/b/mine", "modules": {}}))
    lines = [_record("R1", i, "R1-E1", "A" if i < 5 else "B", 0.05 if i < 5 else 0.15, 1000 + i, review=i == 7)
             for i in range(10)]
    lines += [_record("R1", 10 + i, None, None, None, 1010 + i, scene_change=i == 0) for i in range(3)]
    lines += [_record("R1", 13 + i, "R1-E2", "C", 0.3, 1013 + i, scene_change=i == 0) for i in range(4)]
    lines += [_record("R2", i, "R2-E1", "D", 0.6, 2000 + 2 * i) for i in range(3)]
    (out / "grades.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    for run, frame, reason, shade in [("R1", 0, "gradeA", 50), ("R1", 5, "gradeB", 100), ("R1", 9, "last", 150),
                                      ("R1", 13, "gradeC", 200), ("R2", 0, "gradeD", 250)]:
        cv2.imwrite(str(out / "snapshots" / f"{run}_frame{frame:06d}_{reason}_overlay.png"),
                    np.full((40, 60, 3), shade, np.uint8))
    return out


def _report(run_dir, out, code=0):
    r = run_cli(["report", run_dir, "--out", out])
    assert r.exit_code == code, r.output
    return r


def _embryos(report):
    with open(report / "embryos.csv", newline="") as f:
        return {row["embryo"]: row for row in csv.DictReader(f)}


def test_a_watch_folder_per_embryo_over_time(watch_dir, tmp_path):
    report = tmp_path / "report"
    r = _report(watch_dir, report)
    assert "3 embryo(s), 0 confirmed" in r.output
    rows = _embryos(report)
    assert list(rows) == ["R1-E1", "R1-E2", "R2-E1"]  # the empty well is no embryo
    e1 = rows["R1-E1"]
    assert (e1["ai_grade"], e1["graded"], e1["review_frames"], e1["time_unit"]) == ("B", "10", "1", "s")
    assert e1["grade_timeline"] == "A 0-4; B 5-9" and (e1["first"], e1["last"]) == ("0.0", "9.0")
    assert rows["R2-E1"]["last"] == "4.0" and rows["R2-E1"]["bundle"] == BUNDLE  # seconds from its first frame
    # the latest picture of each embryo: R1-E1's "last" snapshot (frame 9), kept in the report folder
    pic = cv2.imread(str(report / e1["overlay"]))
    assert abs(int(pic.mean()) - 150) <= 2
    page = (report / "report.html").read_text()
    assert page.count('class="embryo"') == 3 and "<svg" in page and "data:image/jpeg;base64," in page
    assert "<script" not in page and not re.search(r"(src|href)=\"(https?:|/|file:)", page)  # self-contained
    assert "dual, fp16, mine" in page and "No decision recorded yet" in page
    with open(report / "timeline.csv", newline="") as f:
        assert sum(1 for row in csv.DictReader(f)) == 17  # every graded frame, none of the empty well


def test_a_grade_folder_of_time_lapse_frames_is_one_embryo_over_its_runs(tmp_path):
    out = tmp_path / "graded"
    out.mkdir()
    rows = []
    for run, grade, ratio in [(156, "B", 0.12), (141, "A", 0.06), (221, "B", 0.14)]:
        name = f"D2024_S1_WELL06_RUN{run}"
        cv2.imwrite(str(out / f"{name}_overlay.png"), np.full((30, 30, 3), run, np.uint8))
        rows.append({"image": f"/frames/{name}.JPG", "state": "graded", "grade": grade, "ratio": ratio, "mask_ratio": ratio,
                     "review": False, "bundle": BUNDLE})  # as `grade` wrote it before it named the embryo
    rows.append({"image": "/frames/other.png", "state": "unreadable", "error": "truncated"})
    (out / "grades.json").write_text(json.dumps(rows))
    r = _report(out, tmp_path / "report", code=1)  # done, but an image was unusable: said
    assert "other.png" in r.output
    (e,) = _embryos(tmp_path / "report").values()
    assert e["embryo"] == "D2024_S1_WELL06" and e["time_unit"] == "run" and e["grade_timeline"] == "A 141; B 156-221"
    assert cv2.imread(str(tmp_path / "report" / e["overlay"])).mean() == pytest.approx(221, abs=2)  # the latest


def test_confirm_shows_the_decision_beside_the_ai_and_the_agreement(watch_dir, tmp_path):
    report = tmp_path / "report"
    _report(watch_dir, report)
    for embryo, grade in [("R1-E1", "B"), ("R1-E2", "d"), ("R2-E1", "A")]:
        r = run_cli(["confirm", report, "--embryo", embryo, "--grade", grade, "--by", "Dr. Lee", "--note", "checked"])
        assert r.exit_code == 0 and "recorded decision" in r.output, r.output
    rows = _embryos(report)
    assert [rows[e]["confirmed_grade"] for e in rows] == ["B", "D", "A"] and rows["R1-E2"]["confirmed_by"] == "Dr. Lee"
    page = (report / "report.html").read_text()
    assert "Audit log verified: 3 decision(s)" in page
    # AI B/B (exact), C/D (within one), D/A (three apart)
    assert "<td>3</td><td>33%</td><td>67%</td>" in page
    a = agreement([("B", "B"), ("C", "D"), ("D", "A")])
    assert a["exact"] == pytest.approx(1 / 3) and a["within_one"] == pytest.approx(2 / 3) and a["kappa"] < 0.5
    assert agreement([("A", "A"), ("B", "B"), ("D", "D")])["kappa"] == 1.0
    # a report made again from the grown run keeps the decisions
    _report(watch_dir, report)
    assert _embryos(report)["R2-E1"]["confirmed_grade"] == "A"


def test_a_later_decision_supersedes_and_the_history_stays(watch_dir, tmp_path):
    report = tmp_path / "report"
    _report(watch_dir, report)
    confirm(report, "R1-E1", "A", "Dr. Lee")
    confirm(report, "R1-E1", "B", "Dr. Kim", "second look")
    assert _embryos(report)["R1-E1"]["confirmed_grade"] == "B"
    records, problems = AuditLog(report).read()
    assert not problems and [r["grade"] for r in records] == ["A", "B"] and records[1]["prev"] == records[0]["hash"]
    assert "earlier decisions: A by Dr. Lee" in (report / "report.html").read_text()


def _confirmed(watch_dir, tmp_path, n=3):
    report = tmp_path / "report"
    _report(watch_dir, report)
    for i in range(n):
        confirm(report, ["R1-E1", "R1-E2", "R2-E1"][i % 3], "ABCD"[i % 4], f"E{i}")
    return report, report / "audit.jsonl"


def _edit(log, index, **change):
    lines = log.read_text().splitlines()
    lines[index] = json.dumps({**json.loads(lines[index]), **change})
    log.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("tamper,words", [
    (lambda log: _edit(log, 1, grade="D"), "record 2 was edited"),
    (lambda log: log.write_text("".join(log.read_text().splitlines(True)[i] for i in (0, 2))), "record 3 stands where record 2"),
    (lambda log: log.write_text("".join(log.read_text().splitlines(True)[:2])), "the last 1 were cut off"),
    (lambda log: log.write_text(log.read_text()[:-40]), "line 3 is not a record"),
    (lambda log: log.unlink(), "the log was deleted"),
    (lambda log: (log.parent / "audit.head").unlink(), "audit.head is missing"),
], ids=["edited", "deleted", "cut-off-tail", "torn-line", "log-deleted", "head-deleted"])
def test_an_edit_a_deletion_or_a_cut_off_tail_is_reported(watch_dir, tmp_path, tamper, words):
    report, log = _confirmed(watch_dir, tmp_path)
    tamper(log)
    r = run_cli(["report", watch_dir, "--out", report])
    assert_one_line(r, 4, words)
    page = (report / "report.html").read_text()
    assert "The audit log failed verification" in page and words in page
    # and nothing is added to a broken chain
    before = tree(report)
    r = run_cli(["confirm", report, "--embryo", "R1-E1", "--grade", "A", "--by", "X"])
    assert_one_line(r, 4, "nothing was recorded")
    assert tree(report) == before


def test_rehashing_an_edited_record_still_breaks_the_chain(watch_dir, tmp_path):
    from edgegrade.review.audit import record_hash

    report, log = _confirmed(watch_dir, tmp_path)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    lines[0]["grade"] = "D"
    lines[0]["hash"] = record_hash(lines[0])
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert any("record 2 does not follow" in p for p in AuditLog(report).read()[1])


def test_two_confirms_at_once_both_chain(watch_dir, tmp_path):
    report = tmp_path / "report"
    _report(watch_dir, report)
    threads = [threading.Thread(target=confirm, args=(report, "R1-E1", g, f"by {g}")) for g in "ABCD"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records, problems = AuditLog(report).read()
    assert not problems and [r["seq"] for r in records] == [1, 2, 3, 4]


@pytest.mark.parametrize("args,code,words", [
    (["--embryo", "nope", "--grade", "A", "--by", "X"], 2, "--embryo nope: not in"),
    (["--embryo", "R1-E1", "--grade", "E", "--by", "X"], 2, "--grade"),
    (["--embryo", "R1-E1", "--grade", "A", "--by", "  "], 2, "--by"),
])
def test_confirm_bad_input_is_one_line_and_records_nothing(watch_dir, tmp_path, args, code, words):
    report = tmp_path / "report"
    _report(watch_dir, report)
    before = tree(report)
    assert_one_line(run_cli(["confirm", report, *args]), code, words)
    assert tree(report) == before


def test_report_bad_input_is_one_line(watch_dir, tmp_path):
    assert_one_line(run_cli(["report", tmp_path / "missing", "--out", tmp_path / "r"]), 2, "missing")
    (tmp_path / "empty").mkdir()
    assert_one_line(run_cli(["report", tmp_path / "empty", "--out", tmp_path / "r"]), 2, "neither a `watch` folder")
    assert_one_line(run_cli(["confirm", tmp_path / "empty", "--embryo", "x", "--grade", "A", "--by", "X"]), 2,
                    "not a report folder")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.docx").write_text("x")
    assert_one_line(run_cli(["report", watch_dir, "--out", tmp_path / "busy"]), 2, "holds files but no report.json")
    _report(watch_dir, tmp_path / "r1")
    other = tmp_path / "other"
    other.mkdir()
    (other / "grades.json").write_text(json.dumps([{"image": "a.png", "state": "graded", "grade": "A", "ratio": 0.01}]))
    assert_one_line(run_cli(["report", other, "--out", tmp_path / "r1"]), 2, "goes in another folder")


@pytest.mark.parametrize("free_kb,read_only,recorded", [(0, True, False), (8, False, True)], ids=["read-only", "8KB-free"])
def test_confirm_on_a_full_disk_is_one_line_and_leaves_log_and_head_agreeing(watch_dir, tmp_path, free_kb, read_only,
                                                                              recorded):
    """No room: nothing recorded, nothing changed. Room for the decision but not the page: the
    decision stands, and the line says so."""
    from badinput import disk

    report = tmp_path / "report"
    with disk(report, free_kb, read_only, fill=lambda p: _confirmed(watch_dir, p.parent, n=1)):
        before = tree(report)
        r = run_cli(["confirm", report, "--embryo", "R1-E2", "--grade", "C", "--by", "X"])
        records, problems = AuditLog(report).read()
        assert not problems and len(records) == 1 + recorded
        if recorded:
            assert_one_line(r, 2, "decision 2 is recorded", "the page could not follow")
        else:
            assert_one_line(r, 2, "audit")
            assert tree(report) == before
