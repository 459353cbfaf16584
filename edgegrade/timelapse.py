"""Which embryo a frame shows, and when, read off its file name: the patterns time-lapse
systems and labs name their exports by, one record each. `grade` writes what they give per
image, `watch` logs it per frame (a folder of time-lapse frames), `report` groups by it, and
dataset splits keep an embryo's frames together by it (`datasets.default_embryo_id`).

The first pattern that matches a name (its stem, case-insensitive) wins:

    embryoscope  D2024.10.20_S01055_I4778_P_WELL06_RUN141  embryo ..._WELL06, time 141 (acquisition run)
    hours        well03_44.5h, E7-t96h                     embryo well03, time 44.5 (hours)
    counter      embryo7_t012, dish2-frame7, x_f3, x_run9  embryo embryo7, time 12 (frame counter)

A name that matches none is an embryo of its own with no time (each still its own embryo).
"""

import re
from dataclasses import dataclass
from pathlib import PurePath

from edgegrade.imageio import IMAGE_SUFFIXES


@dataclass(frozen=True)
class NamePattern:
    name: str
    regex: re.Pattern  # named groups: embryo, time
    unit: str  # what the time counts: "run" (acquisition), "h" (hours), "frame"
    example: str


@dataclass(frozen=True)
class Timepoint:
    embryo: str
    time: float
    unit: str
    pattern: str


def _p(name, regex, unit, example) -> NamePattern:
    return NamePattern(name, re.compile(regex, re.IGNORECASE), unit, example)


PATTERNS = (
    _p("embryoscope", r"(?P<embryo>.+[_-]WELL\d+)[_-]RUN(?P<time>\d+)", "run", "D2024.10.20_S01055_I4778_P_WELL06_RUN141"),
    _p("hours", r"(?P<embryo>.+?)[_-]t?(?P<time>\d+(?:\.\d+)?)h", "h", "well03_44.5h"),
    _p("counter", r"(?P<embryo>.+?)[_-](?:run|frame|f|t)(?P<time>\d+)", "frame", "embryo7_t012"),
)


def parse_name(name: str) -> Timepoint | None:
    """The embryo and time a file name (with or without folder and suffix) gives, or None."""
    path = PurePath(name)
    stem = path.stem if path.suffix.lower() in IMAGE_SUFFIXES else path.name
    for pattern in PATTERNS:
        m = pattern.regex.fullmatch(stem)
        if m:
            return Timepoint(m["embryo"], float(m["time"]), pattern.unit, pattern.name)
    return None


class EmbryoIds:
    """Which embryo a live frame shows, so that `watch` logs it and the report need not
    guess: the one its name gives (a folder of time-lapse frames), else one per scene (what
    lies between two scene changes) counted in the run, `RUN-E1`, `RUN-E2`, ... (an empty well
    between two embryos takes no number); None when nothing is in view."""

    def __init__(self, run: str):
        self.run, self.count, self.new_scene = run, 0, True

    def assign(self, name: str, scene_change: bool, in_view: bool) -> tuple[str | None, Timepoint | None]:
        """-> (embryo id, the time its name gives or None)."""
        named = parse_name(name) if name else None
        self.new_scene |= scene_change
        if not in_view:
            return None, named
        if named is not None:
            return named.embryo, named
        if self.new_scene:
            self.count, self.new_scene = self.count + 1, False
        return f"{self.run}-E{self.count}", None
