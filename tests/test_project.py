"""The README's promises that a fresh machine relies on."""

import re
from pathlib import Path

import yaml

from restoration import weights

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _front_matter() -> dict:
    return yaml.safe_load(README.split("---", 2)[1])


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_one_as_written():
    install_and_run, install_and_test = _quick_start_commands()
    assert install_and_run.endswith("python app.py")
    assert install_and_test.endswith("python -m pytest")
    assert install_and_test in (ROOT / ".ci" / "run").read_text()


def test_space_front_matter_matches_the_pinned_gradio_and_the_manifest():
    front = _front_matter()
    pinned = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().split() if "==" in line)
    assert front["sdk"] == "gradio" and front["sdk_version"] == pinned["gradio"]
    assert front["app_file"] == "app.py" and front["python_version"] == "3.11"
    expected = [
        f"{entry.repo} {','.join(f.path for f in entry.files)} {entry.revision}"
        for entry in weights.load_manifest().values()
        if entry.source_type == "hub"
    ]
    assert front["preload_from_hub"] == expected
