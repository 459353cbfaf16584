"""The `edgegrade` command: a thin click group. Each command imports its stage inside the
function, so `--help` stays fast and torch-free."""

import json
from pathlib import Path

import click

from edgegrade import __version__


@click.group()
@click.version_option(__version__, prog_name="edgegrade")
def main():
    """Embryo fragmentation grading at the edge (AttnRegDeepLab): train, export, watch."""


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Dataset folder to write.")
@click.option("--n", default=200, show_default=True, help="Paired images (image + label map).")
@click.option("--grade-only", default=0, show_default=True, help="Extra images with only a grade in labels.csv.")
@click.option("--size", default=256, show_default=True, help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True)
def synth(out, n, grade_only, size, seed):
    """Render synthetic cleavage-stage embryos with exact label maps."""
    from edgegrade.synth import write_dataset

    info = write_dataset(out, n, size=size, seed=seed, grade_only=grade_only)
    click.echo(f"wrote {info['paired']} paired + {info['grade_only']} grade-only images to {out}; grades {info['grades']}")


@main.group()
def data():
    """Check and import datasets (folder format, LabelMe, COCO)."""


@data.command("check")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report as JSON.")
def data_check(root, json_out):
    """Report counts, grade and ratio histograms and every problem; exit 1 on problems."""
    from edgegrade.datasets import check

    report = check(root)
    click.echo(f"{report['root']}: {report['images']} images ({report['paired']} paired, "
               f"{report['grade_only']} grade-only) from {report['embryos']} embryos")
    click.echo("grades: " + "  ".join(f"{g}={n}" for g, n in report["grades"].items()))
    click.echo("fragment ratio (paired):")
    peak = max(report["ratio_histogram"].values()) or 1
    for bin_, count in report["ratio_histogram"].items():
        click.echo(f"  {bin_}  {'#' * round(30 * count / peak):30s} {count}")
    for problem in report["problems"]:
        click.echo(f"problem: {problem}", err=True)
    if json_out:
        json_out.write_text(json.dumps(report, indent=2))
    click.echo(f"{len(report['problems'])} problem(s)")
    if report["problems"]:
        raise SystemExit(1)


@data.command("import")
@click.argument("fmt", type=click.Choice(["labelme", "coco"]))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="COCO only: folder of the images named in the JSON.")
def data_import(fmt, src, out, images):
    """Convert LabelMe JSONs (a folder) or a COCO JSON into the folder format."""
    from edgegrade.importers import import_coco, import_labelme

    if fmt == "coco":
        if images is None:
            raise click.UsageError("--images is required for COCO")
        n = import_coco(src, images, out)
    else:
        n = import_labelme(src, out)
    click.echo(f"imported {n} annotated images into {out}")
