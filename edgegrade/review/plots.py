"""The report's plot per embryo: the grader's and the mask's fragmentation ratio over time on
the grade bands, REVIEW frames marked, as inline SVG (crisp on paper, no file beside the page).
matplotlib is imported here only (`pip install 'edgegrade[report]'`); grading never needs it."""

import io

from edgegrade.errors import require
from edgegrade.grading import GRADES

BAND_COLOURS = {"A": "#2e7d32", "B": "#00838f", "C": "#ef6c00", "D": "#c62828"}
UNITS = {"s": "seconds from its first frame", "run": "acquisition (RUN)", "h": "hours", "frame": "frame", "": "image"}


def ratio_plot(embryo: dict) -> str:
    """An <svg> element: ratio (grader, solid; mask, dashed) against time, for one embryo."""
    require("matplotlib", "report")
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.3), dpi=100)
    ax = fig.add_subplot()
    graded = [p for p in embryo["points"] if p["grade"] is not None]
    t = [p["t"] for p in graded]
    marker = "o" if len(graded) <= 40 else None
    ax.plot(t, [p["ratio"] for p in graded], color="#1565c0", lw=1.6, marker=marker, ms=3, label="grader")
    mask = [(p["t"], p["mask_ratio"]) for p in graded if p["mask_ratio"] is not None]
    if mask:
        ax.plot(*zip(*mask), color="#ef6c00", lw=1.2, ls="--", marker=marker, ms=3, label="mask")
    review = [p["t"] for p in graded if p["review"]]
    if review:
        ax.plot(review, [0.005] * len(review), "|", color="#c62828", ms=9, mew=1.5, label="REVIEW")
    top = min(1.0, max([0.3] + [p["ratio"] or 0 for p in graded] + [v for _, v in mask]) * 1.15 + 0.02)
    ax.set_ylim(0, top)
    for g in GRADES:  # the grade bands, named at the right where they show
        ax.axhspan(g.low, g.high, color=BAND_COLOURS[g.name], alpha=0.08, lw=0)
        if g.low < top:
            ax.text(1.005, (g.low + min(g.high, top)) / 2, g.name, transform=ax.get_yaxis_transform(), va="center",
                    fontsize=8, color=BAND_COLOURS[g.name])
    ax.set_ylabel("fragmentation", fontsize=8)
    ax.set_xlabel(UNITS.get(embryo["unit"], embryo["unit"]), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.legend(fontsize=7, loc="upper left", frameon=False, ncol=3)
    ax.grid(alpha=0.25, lw=0.5)
    fig.tight_layout(pad=0.4)
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):  # text stays text: a smaller file, and it prints as type
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]
