"""`scripts/setup`, run for real on a copy of the repository's scripts; only the machine's edges are fakes: apt-get,
`id` (root or not), and the venv's pip (so nothing is installed and the shared environment is never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

FAKE_APT = """#!/bin/sh
echo "apt-get $*" >> "$SETUP_LOG"
case " $* " in *" install "*) touch "$SETUP_PROBE" ;; esac
"""
FAKE_ID = '#!/bin/sh\nif [ "$1" = -u ]; then echo "$FAKE_UID"; else /usr/bin/id "$@"; fi\n'
FAKE_PYTHON = f"""#!/bin/sh
case "$1" in -c) exec {sys.executable} "$@" ;; esac
echo "python $*" >> "$SETUP_LOG"
"""


def _checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    probe = tmp_path / "installed-fake-package"
    (repo / "scripts/system-packages.txt").write_text(
        f"# a test list\nfake-package   {probe}   serve   # something only apt-get can provide\n"
    )
    for venv in (".venv", ".venv-satellite"):
        python = repo / venv / "bin/python"
        python.parent.mkdir(parents=True)
        python.write_text(FAKE_PYTHON)
        python.chmod(0o755)
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    for name, text in (("apt-get", FAKE_APT), ("id", FAKE_ID)):
        (fakebin / name).write_text(text)
        (fakebin / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fakebin}{os.pathsep}{os.environ['PATH']}",
        "SETUP_LOG": str(tmp_path / "calls.log"),
        "SETUP_PROBE": str(probe),
        "FAKE_UID": "0",
    }
    return repo, env


def _setup(repo: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = Path(env["SETUP_LOG"])
    log.unlink(missing_ok=True)
    out = subprocess.run(
        ["bash", "scripts/setup"], cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return out, log.read_text().splitlines() if log.exists() else []


def test_as_root_it_installs_what_is_missing_once_then_does_nothing(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    out, calls = _setup(repo, env)
    assert out.returncode == 0, out.stderr
    installs = [c for c in calls if c.startswith("apt-get") and " install " in c]
    assert len(installs) == 1 and installs[0].endswith("install -y -qq --no-install-recommends fake-package"), calls
    assert [c for c in calls if c.startswith("python")] == ["python -m pip install -q -e .[voice,dev]"]

    # Nothing changed: no apt-get, no pip.
    out, calls = _setup(repo, env)
    assert out.returncode == 0, out.stderr
    assert calls == []

    # pyproject.toml changed: the Python packages are installed again, and only they.
    with (repo / "pyproject.toml").open("a") as f:
        f.write("\n# a new pin would go here\n")
    out, calls = _setup(repo, env)
    assert out.returncode == 0, out.stderr
    assert calls == ["python -m pip install -q -e .[voice,dev]"]


def test_without_root_it_stops_at_once_with_the_exact_command(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    out, calls = _setup(repo, {**env, "FAKE_UID": "1000"})
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "setup: missing system packages. Run: sudo apt-get update && sudo apt-get install -y fake-package"
    )
    assert calls == []  # neither apt-get nor pip ran
