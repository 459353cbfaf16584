"""The models that ship inside the package (`edgegrade/assets/pretrained/`): an assistant and a
grader trained on synthetic embryos only, weights in half precision, with their provenance
and the metrics measured on these very files in `pretrained.json`. `--init pretrained`
fine-tunes from them, `export --run pretrained` bundles them, `edgegrade models` lists them.

They are not for clinical use before a lab has fine-tuned and checked them on its own
annotated frames (README, model card)."""

import hashlib
import json
from pathlib import Path

from edgegrade.errors import EdgegradeError

NAME = "pretrained"  # what --init and --run accept in place of a path
FOLDER = Path(__file__).parent / "assets" / "pretrained"
INDEX = FOLDER / "pretrained.json"


def index() -> dict:
    """pretrained.json: {"models": {role: {"file", "sha256", "bytes", "metrics", ...}}, "made": {...}}."""
    try:
        return json.loads(INDEX.read_text())
    except FileNotFoundError:
        raise EdgegradeError(f"{INDEX}: no pretrained models in this installation (reinstall edgegrade)") from None
    except ValueError as exc:
        raise EdgegradeError(f"{INDEX}: corrupt ({exc})") from None


def path_for(role: str) -> Path:
    """The shipped file for a role (assistant or grader), its hash checked."""
    models = index()["models"]
    if role not in models:
        raise EdgegradeError(f"no pretrained {role} ships with edgegrade (there are: {', '.join(models)})")
    entry = models[role]
    path = FOLDER / entry["file"]
    if not path.is_file():
        raise EdgegradeError(f"{path}: listed in {INDEX.name} but missing (reinstall edgegrade)")
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        raise EdgegradeError(f"{path}: does not match its sha256 in {INDEX.name} (corrupt or replaced)")
    return path


def modules() -> dict[str, Path]:
    """{role: file} for every shipped module, as a training run's OUT/<role>.pt."""
    return {role: path_for(role) for role in index()["models"]}


def role_for(phase_role: str, trains_ratio: bool) -> str:
    """Which shipped model a training phase starts from: the assistant for segmentation
    phases, the grader for phases that learn the ratio."""
    if phase_role in ("assistant", "grader"):
        return phase_role
    return "grader" if trains_ratio else "assistant"
