"""The README's promises that a fresh machine relies on."""

import re
from pathlib import Path

import pytest
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


WORKFLOW = ROOT / ".github" / "workflows" / "deploy-space.yml"
# Short descriptions longer than this are refused by the Hub when the Space is pushed
# ('"short_description" length must be less than or equal to 60 characters long').
SHORT_DESCRIPTION_MAX = 60


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _pins() -> dict[str, str]:
    return dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().split() if "==" in line)


def test_front_matter_has_what_a_zero_gpu_space_needs():
    from huggingface_hub import SpaceHardware

    front = _front_matter()
    for key in ("title", "sdk", "sdk_version", "app_file", "python_version", "license", "short_description"):
        assert isinstance(front[key], str) and front[key], key
    assert front["sdk_version"] == _pins()["gradio"]
    assert (ROOT / front["app_file"]).is_file()
    assert len(front["short_description"]) <= SHORT_DESCRIPTION_MAX
    assert front["suggested_hardware"] == "zero-a10g" and front["suggested_hardware"] in {h.value for h in SpaceHardware}
    hub_repos = [entry.repo for entry in weights.load_manifest().values() if entry.source_type == "hub"]
    assert front["models"] == hub_repos  # the Space page links the models it loads
    assert (ROOT / "LICENSE").read_text().startswith("MIT License") and front["license"] == "mit"
    packages = (ROOT / "packages.txt").read_text().split()
    assert packages and all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", name) for name in packages)  # apt names, one a line


def test_deploy_workflow_runs_on_push_to_main_and_uploads_with_the_pinned_huggingface_hub():
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"] == {"branches": ["main"]}
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "check" and deploy["if"] == "needs.check.outputs.ready == 'true'"
    steps = deploy["steps"]
    (install,) = [step for step in steps if "pip install" in step.get("run", "")]
    assert f'huggingface_hub=={_pins()["huggingface_hub"]}' in install["run"]
    (upload,) = [step for step in steps if "upload_folder" in step.get("run", "")]
    assert upload["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    assert "HF_SPACE_ID" in upload["env"]["HF_SPACE_ID"]


def _upload_call(monkeypatch) -> dict:
    """Run the workflow's upload script against a stand-in for HfApi; returns its arguments."""
    import sys
    import types

    (upload,) = [s for s in _workflow()["jobs"]["deploy"]["steps"] if "upload_folder" in s.get("run", "")]
    script = upload["run"].split("<<'PYTHON'\n", 1)[1].rsplit("PYTHON", 1)[0]
    calls = []

    class FakeApi:
        def __init__(self, token):
            calls.append({"token": token})

        def upload_folder(self, **arguments):
            calls[-1].update(arguments)
            return types.SimpleNamespace(commit_url="https://example.invalid/commit/1")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(HfApi=FakeApi))
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setenv("HF_SPACE_ID", "someone/old-photos")
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123")
    exec(compile(script, str(WORKFLOW), "exec"), {})  # noqa: S102 - the workflow's own script, with HfApi stood in
    (call,) = calls
    return call


def test_deploy_uploads_the_app_to_the_space_and_leaves_tests_and_benchmarks_out(monkeypatch):
    from huggingface_hub.utils import filter_repo_objects

    call = _upload_call(monkeypatch)
    assert call["token"] == "hf_test" and call["repo_id"] == "someone/old-photos" and call["repo_type"] == "space"
    assert call["folder_path"] == "." and "0123456789ab" in call["commit_message"]
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.relative_to(ROOT).parts[:1]]
    uploaded = set(filter_repo_objects(files, ignore_patterns=call["ignore_patterns"]))
    needed = ["app.py", "README.md", "LICENSE", "requirements.txt", "packages.txt", "weights_manifest.yaml",
              "restoration/pipeline.py", "restoration/stages/scratch.py"]
    assert set(needed) <= uploaded
    assert {p for p in files if p.startswith("examples/")} <= uploaded
    for left_out in ("tests/", "benchmarks/", ".github/", ".ci/", "training/"):
        assert not any(p.startswith(left_out) for p in uploaded), left_out
    assert not any("__pycache__" in p for p in uploaded)


@pytest.mark.parametrize(("token", "space", "ready"), [("", "", "false"), ("hf_x", "", "false"), ("", "a/b", "false"), ("hf_x", "a/b", "true")])
def test_without_the_token_or_the_space_id_the_deploy_is_skipped_with_a_notice(tmp_path, token, space, ready):
    import subprocess

    (step,) = _workflow()["jobs"]["check"]["steps"]
    assert step["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    outputs = tmp_path / "outputs"
    completed = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={"PATH": "/usr/bin:/bin", "HF_TOKEN": token, "HF_SPACE_ID": space, "GITHUB_OUTPUT": str(outputs)},
        capture_output=True, text=True, check=True,  # the job succeeds either way
    )
    assert outputs.read_text() == f"ready={ready}\n"
    assert ("::notice title=Space deployment skipped::" in completed.stdout) == (ready == "false")
