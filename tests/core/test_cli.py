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
