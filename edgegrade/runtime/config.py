"""WatchConfig: the settings of `watch`, `grade` and the live pipeline (CLI flags override
its fields; the resolved config goes into summary.json)."""

from dataclasses import dataclass


@dataclass
class WatchConfig:
    bundle: str
    source: str = "synthetic"
    out: str = "runs/watch"
    log: str | None = None  # default OUT/grades.jsonl
    headless: bool = False
    max_frames: int = 0
    backend: str = "auto"
    provider: str = "auto"
    video: str | None = None
    snapshot_on_change: bool = True
    review_threshold: float = 0.10
    smooth: int = 15
    threads: int = 0
    roi: str | None = None  # "x,y,w,h": the embryo's box, fixed by hand (no localiser)
    allow_undeployable: bool = False
