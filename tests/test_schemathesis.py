"""Generated requests (schemathesis) against the live OpenAPI document: no server error, no undocumented status."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import serve_subprocess

MAX_EXAMPLES = 10  # per operation and phase: about 40 s for the whole API on a shared 2-core machine
SEED = 17  # the same cases every run, so a failure here is reproducible with the command it prints


def test_generated_requests_get_no_server_error_and_only_documented_statuses(tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    assert st.exists() or shutil.which("st"), "schemathesis is missing: pip install -e '.[dev]'"
    # Voice on (the real shipped models), so that the voice routes are exercised rather than answering 501.
    with serve_subprocess(tmp_path, stt="auto", tts="auto") as live:
        command = [
            str(st) if st.exists() else "st", "run", f"{live.url}/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {live.token}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--no-shrink",
            "--request-timeout", "10", "--workers", "1",
            "--report", "json", "--report-dir", str(tmp_path / "report"),
            "--no-color",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    report = tmp_path / "report"
    summary = ""
    for path in sorted(report.glob("*.json")):
        summary += json.dumps(json.loads(path.read_text()), indent=1)[:4000]
    assert result.returncode == 0, f"{' '.join(command)}\n{output[-12000:]}\n{summary}"
