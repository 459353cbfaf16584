"""The one fragmentation-grade table (Istanbul consensus intervals, as used by the paper).

Boundaries: a ratio r belongs to grade A if 0 <= r < 0.10, B if 0.10 <= r < 0.25,
C if 0.25 <= r < 0.50 and D if 0.50 <= r <= 1. A boundary value goes to the worse grade.
The range loss, the evaluation and the runtime all read this table.
"""

from dataclasses import dataclass

import numpy as np

from edgegrade.errors import EdgegradeError

CELL, FRAGMENT = 1, 2  # label-map values; 0 is background


@dataclass(frozen=True)
class Grade:
    name: str
    low: float
    high: float  # exclusive, except for the last grade


GRADES = (
    Grade("A", 0.00, 0.10),
    Grade("B", 0.10, 0.25),
    Grade("C", 0.25, 0.50),
    Grade("D", 0.50, 1.00),
)
GRADE_NAMES = tuple(g.name for g in GRADES)


def grade_of(ratio: float) -> str:
    """Grade letter for a fragmentation ratio in [0, 1] (values outside are clipped)."""
    return GRADE_NAMES[grade_index(ratio)]


def grade_index(ratio) -> int | np.ndarray:
    """Index into GRADES for a ratio or an array of ratios."""
    edges = np.array([g.high for g in GRADES[:-1]])
    idx = np.searchsorted(edges, np.clip(ratio, 0.0, 1.0), side="right")
    return int(idx) if np.ndim(idx) == 0 else idx


def near_boundary(ratio, band: float) -> np.ndarray:
    """True where a ratio lies within `band` of a grade boundary, where both grades are
    defensible (embryologists' estimates scatter by several points)."""
    edges = np.array([g.high for g in GRADES[:-1]])
    return np.abs(np.asarray(ratio, np.float64)[..., None] - edges).min(-1) < band


def interval(grade: str) -> tuple[float, float]:
    """The [low, high) ratio interval of a grade letter."""
    g = GRADES[GRADE_NAMES.index(parse_grade(grade))]
    return g.low, g.high


def parse_grade(text: str) -> str:
    """Normalise a grade string ('a', ' B ') to its letter, or fail naming it."""
    name = str(text).strip().upper()
    if name not in GRADE_NAMES:
        raise EdgegradeError(f"unknown grade {text!r}; expected one of {', '.join(GRADE_NAMES)}")
    return name


def fragment_ratio(label_map: np.ndarray) -> float:
    """Fragment pixels / (cell or fragment pixels). An image with no embryo pixels has ratio 0."""
    fragment = np.count_nonzero(label_map == FRAGMENT)
    embryo = np.count_nonzero(label_map > 0)
    return fragment / embryo if embryo else 0.0


def grade_table() -> list[dict]:
    """The table as plain data, stored in checkpoints and bundles."""
    return [{"grade": g.name, "low": g.low, "high": g.high} for g in GRADES]
