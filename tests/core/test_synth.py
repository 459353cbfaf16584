import numpy as np

from edgegrade.feed import SyntheticFeed
from edgegrade.grading import grade_of
from edgegrade.synth import render_embryo


def test_same_seed_same_image_and_exact_labels():
    a = render_embryo(np.random.default_rng([4, 2]), 96)
    b = render_embryo(np.random.default_rng([4, 2]), 96)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert set(np.unique(a.label)) <= {0, 1, 2}
    assert a.image.dtype == np.uint8 and a.image.shape == (96, 96)


def test_all_grades_are_well_represented_and_hit_their_target():
    rs = [render_embryo(np.random.default_rng([0, i]), 128) for i in range(120)]
    grades = [grade_of(r.ratio) for r in rs]
    for g in "ABCD":
        assert grades.count(g) >= 15, grades
    assert np.median([abs(r.ratio - r.target_ratio) for r in rs]) < 0.03


def test_requested_grade():
    r = render_embryo(np.random.default_rng(1), 128, grade="D")
    assert grade_of(r.ratio) == "D"


def test_feed_drifts_a_little_and_ends():
    feed = SyntheticFeed(width=160, height=120, seed=2, frames=5)
    frames = list(feed)
    assert len(frames) == 5 and frames[0].shape == (120, 160)
    diff = np.abs(frames[0].astype(int) - frames[4].astype(int)).mean()
    assert 0 < diff < 30
