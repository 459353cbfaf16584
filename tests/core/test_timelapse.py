"""The file-name patterns that say which embryo a frame shows and when (README, Watch)."""

import pytest

from edgegrade.datasets import default_embryo_id
from edgegrade.timelapse import PATTERNS, EmbryoIds, parse_name


@pytest.mark.parametrize("name,embryo,time,unit", [
    ("D2024.10.20_S01055_I4778_P_WELL06_RUN141.JPG", "D2024.10.20_S01055_I4778_P_WELL06", 141, "run"),
    ("D2024.10.20_S01055_I4778_P_WELL06_RUN141", "D2024.10.20_S01055_I4778_P_WELL06", 141, "run"),
    ("/data/slide3/slide3_well12_run7.tif", "slide3_well12", 7, "run"),
    ("well03_44.5h.png", "well03", 44.5, "h"),
    ("E7-t96h", "E7", 96, "h"),
    ("embryo7_t012.png", "embryo7", 12, "frame"),
    ("dish2-frame7", "dish2", 7, "frame"),
])
def test_names_give_embryo_and_time(name, embryo, time, unit):
    found = parse_name(name)
    assert (found.embryo, found.time, found.unit) == (embryo, time, unit)


def test_every_documented_example_parses_by_its_own_pattern():
    for p in PATTERNS:
        assert parse_name(p.example).pattern == p.name


@pytest.mark.parametrize("name", ["embryo7.png", "IMG_0042.jpg", "synthetic12", "", "well03.png"])
def test_other_names_give_nothing(name):
    assert parse_name(name) is None


def test_dataset_splits_group_by_the_same_patterns():
    assert default_embryo_id("D2024_WELL06_RUN141") == "D2024_WELL06"
    assert default_embryo_id("well03_44.5h") == "well03"
    assert default_embryo_id("embryo7") == "embryo7"


def test_live_embryos_are_counted_per_scene_and_an_empty_well_takes_no_number():
    ids = EmbryoIds("R")
    seen = [ids.assign("", change, in_view)[0] for change, in_view in [
        (False, True), (False, True), (True, False), (False, False),  # an empty well
        (True, True), (False, False), (False, True),  # a new embryo, lost for a frame, same scene
        (True, True)]]
    assert seen == ["R-E1", "R-E1", None, None, "R-E2", None, "R-E2", "R-E3"]


def test_named_frames_keep_their_embryo_across_scene_changes():
    ids = EmbryoIds("R")
    a = ids.assign("x_WELL01_RUN1.jpg", False, True)
    b = ids.assign("x_WELL01_RUN2.jpg", True, True)
    assert a[0] == b[0] == "x_WELL01" and (a[1].time, b[1].time) == (1, 2)
