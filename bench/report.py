"""Printing a benchmark's results as JSON, and writing them to a file when asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(results: Any, path: Path | None) -> None:
    """Print `results` as indented JSON; also write them to `path` (its folder made) when one is given."""
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
