"""Spoken accuracy with a voice unlike the reply voice: espeak-ng at two speeds, with and without vocabulary bias.

The commands (tests/data/voice/heldout_commands.txt) were never used to tune the recogniser. A command counts as
right when the intent and every entity parsed from the transcript equal those parsed from the written text. The
measured shares are in docs/bench/voice.md (bench/bench_voice.py); this test holds a floor under them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_config, start_api
from tests.voice_fixtures import ESPEAK, load_commands, spoken_accuracy

pytestmark = [pytest.mark.voice, pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")]

FLOOR_BIASED = 0.65
FLOOR_PLAIN = 0.3


async def test_espeak_commands_are_understood_and_the_names_help(tmp_path: Path) -> None:
    texts = load_commands()
    shares: dict[tuple[bool, int], float] = {}
    report = []
    for bias in (True, False):
        config = make_config(
            tmp_path / str(bias), voice={"stt": "faster-whisper", "tts": "none", "vocabulary_bias": bias}
        )
        runner, api = await start_api(config)
        try:
            home_id, _ = api.core.default_principal()
            for speed in (150, 190):
                score = await spoken_accuracy(api.core, home_id, texts, speed)
                shares[(bias, speed)] = score.share
                report.append(f"bias={bias} speed={speed}: {score.right}/{score.total} misses={score.misses[:5]}")
        finally:
            await api.session.close()
            await runner.cleanup()
    print("\n".join(report))
    for speed in (150, 190):
        assert shares[(True, speed)] >= FLOOR_BIASED, report
        assert shares[(False, speed)] >= FLOOR_PLAIN, report
    assert shares[(True, 150)] + shares[(True, 190)] > shares[(False, 150)] + shares[(False, 190)], report
