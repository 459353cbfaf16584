import numpy as np

from edgegrade.configs import DEFAULT_TOLERANCE
from edgegrade.export.verify import compare
from edgegrade.grading import grade_index, near_boundary


def _score(ratios):
    r = np.asarray(ratios, np.float64)
    return {"mae_direct": 0.05, "ratios_direct": r.tolist(), "grades_direct": grade_index(r).tolist()}


def test_grade_flips_at_a_boundary_do_not_fail_the_gate_but_real_ones_do():
    assert near_boundary([0.0999, 0.3, 0.502], 0.005).tolist() == [True, False, True]
    ref = [0.05, 0.0999, 0.3, 0.6] * 8  # 32 images, 8 of them a hair below the A/B boundary
    drifted = [0.05, 0.1001, 0.3, 0.6] * 8  # fp16 pushes them over: grade B instead of A
    r = compare("grader", {"ratio": np.array(ref)}, _score(ref), {"ratio": np.array(drifted)}, _score(drifted),
                DEFAULT_TOLERANCE["fp16"])
    assert r["passed"] and r["borderline"] == 8 and r["grade_agreement"] == 1.0
    flipped = list(ref)
    flipped[2] = 0.24  # one real flip, far from a boundary: C (0.30) -> B
    r = compare("grader", {"ratio": np.array(ref)}, _score(ref), {"ratio": np.array(flipped)}, _score(flipped),
                DEFAULT_TOLERANCE["fp16"])
    assert not r["passed"] and any("grade agreement" in f for f in r["failures"]), r["failures"]
