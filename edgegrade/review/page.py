"""The report as one self-contained HTML page: no script, no link out; the pictures are JPEG
data URIs, the plots inline SVG, so it opens offline, mails as one file and prints (one embryo
per block, never split across pages)."""

import base64
from html import escape
from pathlib import Path

from edgegrade.review.plots import BAND_COLOURS, UNITS, ratio_plot

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 0; }
.meta { color: #555; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.ok { background: #e8f5e9; border: 1px solid #a5d6a7; padding: 8px 12px; border-radius: 4px; }
.broken { background: #ffebee; border: 2px solid #c62828; padding: 8px 12px; border-radius: 4px; color: #b71c1c; }
.embryo { border: 1px solid #ccc; border-radius: 6px; padding: 12px 14px; margin: 14px 0; break-inside: avoid; page-break-inside: avoid; }
.row { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.row > .plot { flex: 1 1 560px; } .row > .picture { flex: 0 1 360px; }
.picture img { width: 100%; border-radius: 4px; }
.grade { display: inline-block; min-width: 1.6em; text-align: center; font-weight: 700; color: #fff; border-radius: 3px; padding: 0 5px; }
.strip { display: flex; height: 14px; border-radius: 3px; overflow: hidden; margin: 6px 0; }
.strip span { display: block; height: 100%; }
.review { color: #c62828; font-weight: 700; }
code { background: #f4f4f4; padding: 1px 4px; border-radius: 3px; font-size: 12px; }
svg { width: 100%; height: auto; }
@media print { body { margin: 0; max-width: none; } .embryo { border-color: #999; } a { color: inherit; } }
"""


def grade_badge(grade) -> str:
    if not grade:
        return '<span class="meta">none</span>'
    return f'<span class="grade" style="background:{BAND_COLOURS[grade]}">{escape(grade)}</span>'


def pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def audit_banner(state: dict) -> str:
    head = state["head"] or {}
    if state["problems"]:
        items = "".join(f"<li>{escape(p)}</li>" for p in state["problems"])
        return (f'<div class="broken"><b>The audit log failed verification.</b> The confirmed grades below cannot '
                f"be trusted until this is explained:<ul>{items}</ul></div>")
    if not state["records"]:
        return '<div class="ok">No decision recorded yet (audit log empty).</div>'
    return (f'<div class="ok">Audit log verified: {len(state["records"])} decision(s), chained; latest hash '
            f'<code>{escape(str(head.get("hash", "")))}</code> (keep a copy of it elsewhere to check this log '
            "later).</div>")


def agreement_table(agr: dict) -> str:
    if not agr["n"]:
        return '<p class="meta">No embryo confirmed yet.</p>'
    kappa = "n/a (needs two or more embryos)" if agr["kappa"] is None else f"{agr['kappa']:.3f}"
    return (f"<table><tr><th>confirmed embryos</th><th>exact agreement</th><th>within one grade</th>"
            f"<th>quadratic-weighted kappa</th></tr><tr><td>{agr['n']}</td><td>{100 * agr['exact']:.0f}%</td>"
            f"<td>{100 * agr['within_one']:.0f}%</td><td>{kappa}</td></tr></table>"
            '<p class="meta">AI grade: the latest graded frame of each embryo; confirmed grade: the latest decision '
            "recorded for it.</p>")


def strip(e: dict) -> str:
    spans = e["timeline"]
    total = sum(s["frames"] for s in spans) or 1
    parts = "".join(f'<span title="{escape(s["grade"])}: {s["frames"]} result(s)" style="width:{100 * s["frames"] / total:.2f}%;'
                    f'background:{BAND_COLOURS[s["grade"]]}"></span>' for s in spans)
    return f'<div class="strip">{parts}</div>'


def bundle_text(bundle_id: str, bundles: dict) -> str:
    b = bundles.get(bundle_id) or {}
    if not b:
        return f"bundle <code>{escape(bundle_id or 'unknown')}</code>"
    modules = ", ".join(f"{escape(r)} <code>{escape(m.get('file', ''))}</code> sha256 <code>{escape((m.get('sha256') or '')[:16])}</code>"
                        for r, m in b.get("modules", {}).items())
    return (f"bundle <code>{escape(bundle_id)}</code> ({escape(str(b.get('kind')))}, {escape(str(b.get('precision')))}, "
            f"{escape(Path(b.get('bundle', '')).name)}): {modules}")


def embryo_block(e: dict, data: dict, state: dict, report: Path) -> str:
    d = state["decisions"].get(e["id"])
    history = [r for r in state["records"] if r.get("embryo") == e["id"]]
    if d:
        changed = (f" (the AI grade was {escape(str(d.get('ai_grade')))} when confirmed)"
                   if d.get("ai_grade") != e["ai_grade"] else "")
        confirmed = (f"{grade_badge(d['grade'])} by {escape(d['by'])}, {escape(d['time'])}{changed}"
                     + (f"<br><i>{escape(d['note'])}</i>" if d.get("note") else ""))
    else:
        confirmed = (f'not yet: <code>edgegrade confirm {escape(str(report))} --embryo {escape(e["id"])} '
                     f"--grade A|B|C|D --by NAME</code>")
    picture = ""
    if e["overlay"]:
        data_uri = base64.b64encode((report / e["overlay"]).read_bytes()).decode()
        picture = f'<div class="picture"><img alt="latest overlay of {escape(e["id"])}" src="data:image/jpeg;base64,{data_uri}"></div>'
    review = (f'<span class="review">REVIEW on {e["review_frames"]} of {e["graded"]} graded result(s)</span>'
              if e["review_frames"] else "no REVIEW flag")
    latest_review = ' <span class="review">REVIEW</span>' if e["ai_review"] else ""
    older = ""
    if len(history) > 1:
        older = "<br>earlier decisions: " + "; ".join(f"{escape(r['grade'])} by {escape(r['by'])} ({escape(r['time'])})"
                                                      for r in history[:-1])
    thinned = " (thinned evenly for the plot and timeline.csv)" if e["thinned"] else ""
    return f"""
<div class="embryo" id="{escape(e['id'])}">
<h3>Embryo {escape(e['id'])}</h3>
<table>
<tr><th>AI grade (latest)</th><td>{grade_badge(e['ai_grade'])} grader {pct(e['ai_ratio'])}, mask {pct(e['ai_mask_ratio'])}{latest_review}</td></tr>
<tr><th>confirmed grade</th><td>{confirmed}{older}</td></tr>
<tr><th>results</th><td>{e['graded']} graded of {e['frames']}{thinned}, {escape(UNITS.get(e['unit'], e['unit']))} {e['first']:g} to {e['last']:g}; {review}</td></tr>
<tr><th>model</th><td>{bundle_text(e['bundle'], data['bundles'])}</td></tr>
</table>
{strip(e)}
<div class="row"><div class="plot">{ratio_plot(e)}</div>{picture}</div>
</div>"""


def summary_rows(data: dict, state: dict) -> str:
    rows = []
    for e in data["embryos"]:
        d = state["decisions"].get(e["id"], {})
        rows.append(f'<tr><td><a href="#{escape(e["id"])}">{escape(e["id"])}</a></td><td>{e["graded"]}</td>'
                    f"<td>{grade_badge(e['ai_grade'])}</td><td>{pct(e['ai_ratio'])}</td><td>{pct(e['ai_mask_ratio'])}</td>"
                    f"<td>{e['review_frames']}</td><td>{grade_badge(d.get('grade'))}</td><td>{escape(d.get('by', ''))}</td></tr>")
    return ("<table><tr><th>embryo</th><th>graded</th><th>AI grade</th><th>grader</th><th>mask</th><th>REVIEW</th>"
            "<th>confirmed</th><th>by</th></tr>" + "".join(rows) + "</table>")


def page(data: dict, state: dict, report: Path) -> str:
    skipped = ""
    if data["skipped"]:
        skipped = (f'<p class="broken">{len(data["skipped"])} line(s) or image(s) of the run could not be used: '
                   + escape("; ".join(data["skipped"][:5])) + ("; ..." if len(data["skipped"]) > 5 else "") + "</p>")
    blocks = "".join(embryo_block(e, data, state, report) for e in data["embryos"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgegrade report: {escape(Path(data['source']).name)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Embryo report</h1>
<div class="meta">{escape(data['kind'])} folder {escape(data['source'])}; made {escape(data['made'])} by edgegrade {escape(data['edgegrade_version'])}; {len(data['embryos'])} embryo(s)</div>
{skipped}
<h2>Decisions</h2>
{audit_banner(state)}
<h2>AI and embryologists</h2>
{agreement_table(state['agreement'])}
<h2>Embryos</h2>
{summary_rows(data, state)}
{blocks}
<p class="meta">Grades: A under 10% fragmentation, B 10-25%, C 25-50%, D 50% and more. The AI grade comes from the
grader's ratio; the mask's ratio is shown beside it, and REVIEW marks results where the two differ by more than the
run's threshold. Decisions are recorded with <code>edgegrade confirm</code> in audit.jsonl, each chained to the one
before by its hash.</p>
</body></html>
"""
