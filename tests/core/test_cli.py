import subprocess
import sys

from click.testing import CliRunner

from edgegrade.cli import main


def test_help_is_torch_free():
    code = ("import sys; from click.testing import CliRunner; from edgegrade.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
            "[CliRunner().invoke(main, [c, '--help']) for c in main.commands]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_data_check_reports_problems_and_exit_code(synth_dir, tmp_path):
    r = CliRunner().invoke(main, ["data", "check", str(synth_dir)])
    assert r.exit_code == 0 and "24 paired" in r.output and "0 problem(s)" in r.output
    bad = tmp_path / "bad"
    (bad / "images").mkdir(parents=True)
    (bad / "images" / "x.png").write_bytes(b"not a png")
    r = CliRunner().invoke(main, ["data", "check", str(bad)])
    assert r.exit_code == 1 and "x.png" in r.output


def test_missing_folder_is_one_line_error(tmp_path):
    r = CliRunner().invoke(main, ["data", "check", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no images/ folder" in r.output


def test_flags_default_to_the_stage_configs():
    """One source of defaults: each command's flags, given nothing, make the dataclass's own
    defaults (help text included)."""
    from dataclasses import fields

    from edgegrade.configs import ExportConfig, TrainConfig, WatchConfig

    for command, cls, extra in (("train", TrainConfig, {}), ("export", ExportConfig, {}),
                                ("watch", WatchConfig, {"bundle": "b"})):
        args = ["--bundle", "b"] if extra else []
        ctx = main.commands[command].make_context(command, args)
        given = {f.name: ctx.params[f.name] for f in fields(cls) if f.name in ctx.params}
        assert cls(**{**given, **extra}) == cls(**extra), command
        assert len(given) >= len([f for f in fields(cls) if f.metadata.get("help")]) - 1
    assert "Epochs per phase" in main.commands["train"].get_help(main.make_context("edgegrade", ["train"]))
