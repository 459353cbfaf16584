import numpy as np
import pytest

from edgegrade.errors import EdgegradeError
from edgegrade.grading import fragment_ratio, grade_index, grade_of, interval, parse_grade


@pytest.mark.parametrize("ratio,grade", [
    (0.0, "A"), (0.0999, "A"), (0.10, "B"), (0.2499, "B"), (0.25, "C"),
    (0.4999, "C"), (0.50, "D"), (1.0, "D"), (-0.1, "A"), (1.3, "D"),
])
def test_boundaries_go_to_the_worse_grade(ratio, grade):
    assert grade_of(ratio) == grade


def test_grade_and_interval_round_trip():
    for name in "ABCD":
        low, high = interval(name)
        assert grade_of(low) == name
        assert grade_of((low + high) / 2) == name
    assert interval("b") == (0.10, 0.25)


def test_vectorised_grade_index():
    assert grade_index(np.array([0.05, 0.1, 0.3, 0.9])).tolist() == [0, 1, 2, 3]


def test_unknown_grade_is_named():
    with pytest.raises(EdgegradeError, match="'E'"):
        parse_grade("E")


def test_fragment_ratio_counts_fragments_over_embryo():
    label = np.zeros((10, 10), np.uint8)
    label[:5] = 1
    label[0, :5] = 2
    assert fragment_ratio(label) == pytest.approx(5 / 50)
    assert fragment_ratio(np.zeros((4, 4), np.uint8)) == 0.0
