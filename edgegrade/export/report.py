"""The bundle's human-readable report (report.md)."""

from pathlib import Path


def write_markdown(path: Path, manifest: dict, report: dict, bundle: Path) -> None:
    lines = [f"# edgegrade bundle ({manifest['kind']}, {manifest['precision']})", "",
             f"Deployable: **{'yes' if manifest['deployable'] else 'NO: accuracy gate failed'}**  ",
             f"Created {manifest['created']} by edgegrade {manifest['edgegrade_version']}; "
             f"gate on {report['eval_images']} held-out images against the torch fp32 reference.", "",
             "| module | artifact | MB | Dice | dDice | MAE | dMAE | grade / count agreement | max abs diff (ratio) | ms/img (ORT CPU) | gate |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, f="{:.4f}": "-" if v is None else f.format(v)  # noqa: E731
    borderline = lambda g: f" ({g['borderline']} borderline left out)" if g.get("borderline") else ""  # noqa: E731
    for role, mod in report["modules"].items():
        for g in mod["artifacts"].values():
            lines.append(f"| {role} | {g['file']} | {g['mb']:.1f} | {fmt(g.get('dice'))} | {fmt(g.get('ddice'))} | "
                         f"{fmt(g.get('mae'))} | {fmt(g.get('dmae'))} | {fmt(g.get('grade_agreement'), '{:.3f}')}{borderline(g)} | "
                         f"{fmt(g.get('max_abs_ratio'), '{:.2e}')} | {g['ms_per_image_ort_cpu']:.1f} | "
                         f"{'pass' if g['passed'] else 'FAIL: ' + '; '.join(g['failures'])} |")
        q = mod.get("quantization")
        if q:
            breaches = q.get("placement_breaches")
            placement = "" if breaches is None else ("; Q/DQ where TensorRT fuses them" if not breaches else
                                                    f"; {len(breaches)} breaches of TensorRT's Q/DQ placement: "
                                                    + "; ".join(breaches[:3]))
            lines += ["", f"{role} INT8: {q['quantizer']} ({q['method']}, its '{q.get('quantizer_method', q['method'])}'), "
                          f"{q['activations']} activations, layers out of INT8 in {q.get('float_dtype', 'fp32')}, "
                          f"kept in float by the gate: {', '.join(q['excluded']) or 'none'}{placement}"]
    lines += ["", "TensorRT: " + (manifest["tensorrt"].get("note") or
                                  f"TensorRT {manifest['tensorrt'].get('tensorrt')} on {manifest['tensorrt'].get('gpu')}")]
    path.write_text("\n".join(lines) + "\n")
