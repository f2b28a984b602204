"""Spoken understanding benchmark (issue 16): n-best choice, confirmation of doubtful readings, end of speech.

On the held-out spoken commands (tests/data/voice/spoken_heldout.txt, written before any tuning, never tuned on):
1. Accuracy, in process: each command spoken by Piper (joe, normal and slow) and espeak-ng (en-us, 150 and 200 wpm),
   transcribed (a) greedily, one reading, as before this issue, (b) with beam search, taking its first reading, and
   (c) with the n-best choice; then run as a real turn of the dialogue manager (virtual devices). Reported: word
   error rate, intent accuracy, intent-and-entities accuracy, opposite actions taken without a confirmation, and
   confirmations asked.
2. End of speech -> reply on a real `hearth serve` over the streaming WebSocket in real time: Piper at the normal and
   a slow rate, timed from the trimmed true end of speech (sox `silence ... reverse`, as the last sample above 1 % of
   full scale) to the `reply` event on the client, with the default settings (end by understanding) and with the
   settings before this issue (a fixed 0.5 s window).
3. Cut-offs: each command with a 0.5 s pause where its "|" marks a hesitation (the two parts trimmed, so the pause
   is exactly 0.5 s); a command is cut off when the server ends the utterance before the second part starts.

Run from the repository root:
  .venv/bin/python bench/bench_voice_understanding.py --json bench/results/voice_understanding.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.nlu.result import NluResult  # noqa: E402
from assistant.speech.audio import STT_FORMAT, convert  # noqa: E402
from assistant.speech.pipeline import VoicePipeline  # noqa: E402
from assistant.speech.piper import PiperTts  # noqa: E402
from assistant.speech.reading import choose, meaning, words  # noqa: E402
from assistant.speech.whisper import FasterWhisperStt  # noqa: E402
from assistant.turn import OPPOSITE_INTENTS, ReplyKind  # noqa: E402
from bench.bench_voice import Server, machine, summary  # noqa: E402
from bench.report import emit  # noqa: E402
from tests.voice_fixtures import DATA, espeak_pcm16  # noqa: E402

FRAME_S = 0.02


def load_heldout(name: str = "spoken_heldout.txt") -> list[tuple[str, str, str]]:
    """(full command, first part, rest) for every line of a command list (rest is "" without a "|")."""
    out = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        first, _, rest = line.partition("|")
        out.append((" ".join(line.replace("|", " ").split()), first.strip(), rest.strip()))
    return out


def sox_trim(pcm: bytes) -> bytes:
    """Both ends trimmed with sox, as the voice notes say (16 kHz 16-bit mono in and out)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        with wave.open(str(src), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(16000)
            wav.writeframes(pcm)
        subprocess.run(
            ["sox", str(src), str(dst), "silence", "1", "0.05", "1%", "reverse", "silence", "1", "0.05", "1%",
             "reverse"], check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        with wave.open(str(dst), "rb") as wav:
            return wav.readframes(wav.getnframes())


class Voices:
    """The test voices: Piper joe at two rates (its own random delivery), espeak-ng en-us at two rates."""

    def __init__(self) -> None:
        self.piper = {"piper-1.0": PiperTts(length_scale=1.0), "piper-1.4": PiperTts(length_scale=1.4)}

    async def speak(self, voice: str, text: str) -> bytes:
        if voice.startswith("piper"):
            chunks = [c async for c in self.piper[voice].synthesize(text)]
            return convert(b"".join(c.audio for c in chunks), chunks[0].format)
        speed = int(voice.split("-")[-1])
        return await asyncio.to_thread(espeak_pcm16, text, speed)


def wer(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits, reference words), with "%" read as "percent"."""
    r = words(ref.replace("%", " percent"))
    h = words(hyp.replace("%", " percent"))
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            cur = min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
            prev, row[j] = row[j], cur
    return row[len(h)], len(r)


async def bench_accuracy(voices: Voices, commands: list[str], names: list[str]) -> dict[str, Any]:
    from tests.conftest import make_config, start_api

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runner, api = await start_api(make_config(Path(tmp), voice={"stt": "faster-whisper", "tts": "none"}))
        try:
            core = api.core
            home_id, user_id = core.default_principal()
            vocabulary = core.registry.home(home_id).vocabulary
            pipeline = VoicePipeline.of(core)
            stt = core.stt
            assert isinstance(stt, FasterWhisperStt)
            nbest = stt.nbest

            async def parse(text: str) -> NluResult:
                return await core.nlu.parse(text, vocabulary)

            gold = {c: await parse(c) for c in commands}
            for voice in names:
                rows: dict[str, dict[str, Any]] = {
                    k: {"edits": 0, "ref_words": 0, "intent": 0, "meaning": 0, "opposite_actions": 0,
                        "confirmations": 0, "misses": []}
                    for k in ("greedy", "beam_top1", "nbest_choice")
                }  # fmt: skip
                stt_ms: dict[str, list[float]] = {"greedy": [], "nbest": []}
                for n, command in enumerate(commands):
                    pcm = await voices.speak(voice, command)
                    stt.nbest = 1
                    greedy = await pipeline.transcribe(pcm, home_id=home_id)
                    stt.nbest = nbest
                    beam = await pipeline.transcribe(pcm, home_id=home_id)
                    stt_ms["greedy"].append(greedy.processing_seconds * 1000)
                    stt_ms["nbest"].append(beam.processing_seconds * 1000)
                    readings = {
                        "greedy": await choose(greedy, parse, vocabulary, rescore=False),
                        "beam_top1": await choose(beam, parse, vocabulary, rescore=False),
                        "nbest_choice": await choose(beam, parse, vocabulary),
                    }
                    want = gold[command]
                    for kind, understood in readings.items():
                        row = rows[kind]
                        edits, ref = wer(command, understood.text)
                        row["edits"] += edits
                        row["ref_words"] += ref
                        got = understood.nlu
                        right_intent = got is not None and got.intent.name == want.intent.name
                        row["intent"] += right_intent
                        row["meaning"] += got is not None and meaning(got) == meaning(want)
                        cid = f"{voice}-{kind}-{n}"
                        reply, _ = await pipeline.respond(
                            understood.text, home_id=home_id, user_id=user_id, conversation_id=cid,
                            speech=understood.evidence,
                        )  # fmt: skip
                        if reply.kind is ReplyKind.CONFIRM:
                            row["confirmations"] += 1
                            await pipeline.respond("no", home_id=home_id, user_id=user_id, conversation_id=cid)
                        opposite = OPPOSITE_INTENTS.get(want.intent.name)
                        if reply.kind is ReplyKind.DONE and opposite is not None and reply.intent == opposite:
                            row["opposite_actions"] += 1
                        if not right_intent:
                            row["misses"].append([command, understood.text, got.intent.name if got else None])
                total = len(commands)
                out[voice] = {
                    kind: {
                        "wer": round(row["edits"] / max(1, row["ref_words"]), 3),
                        "intent_accuracy": round(row["intent"] / total, 3),
                        "intent_and_entities": round(row["meaning"] / total, 3),
                        "opposite_actions_unconfirmed": row["opposite_actions"],
                        "confirmations": row["confirmations"],
                        "misses": row["misses"],
                    }
                    for kind, row in rows.items()
                }
                out[voice]["stt_ms"] = {k: summary(v) for k, v in stt_ms.items()}
                print(
                    voice,
                    json.dumps({k: {m: v for m, v in r.items() if m != "misses"} for k, r in out[voice].items()}),
                    flush=True,
                )
        finally:
            await api.session.close()
            await runner.cleanup()
    totals: dict[str, Any] = {}
    for kind in ("greedy", "beam_top1", "nbest_choice"):
        per = [out[v][kind] for v in names]
        totals[kind] = {
            "wer_mean": round(statistics.mean(p["wer"] for p in per), 3),
            "intent_accuracy_mean": round(statistics.mean(p["intent_accuracy"] for p in per), 3),
            "intent_and_entities_mean": round(statistics.mean(p["intent_and_entities"] for p in per), 3),
            "opposite_actions_unconfirmed": sum(p["opposite_actions_unconfirmed"] for p in per),
            "confirmations": sum(p["confirmations"] for p in per),
        }
    out["all"] = totals
    return out


async def stream(
    session: aiohttp.ClientSession, server: Server, parts: list[bytes], pause_s: float, start: dict[str, Any]
) -> dict[str, Any]:
    """Stream 0.5 s of silence, the parts (with `pause_s` between them), then silence, in real time; return when
    the speech ended on the client clock (the last sample of the last part), the events and their client times."""
    url = server.url.replace("http", "ws", 1) + "/api/v1/voice/stream"
    lead = bytes(int(0.5 * STT_FORMAT.rate) * 2)
    audio = bytearray(lead)
    marks = []
    for i, part in enumerate(parts):
        if i:
            audio += bytes(int(pause_s * STT_FORMAT.rate) * 2)
        marks.append(len(audio))
        audio += part
    speech_end = len(audio)
    audio += bytes(int(3.0 * STT_FORMAT.rate) * 2)
    frame = int(FRAME_S * STT_FORMAT.rate) * 2
    times: dict[str, float] = {}
    events: list[dict[str, Any]] = []
    async with session.ws_connect(url, headers=server.headers, max_msg_size=16 * 1024 * 1024) as ws:
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"type": "start", "speak": False, **start})
        assert (await ws.receive_json())["type"] == "listening"

        async def receive() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = json.loads(msg.data)
                times.setdefault(event["type"], time.perf_counter())
                events.append(event)
                if event["type"] in ("done", "error"):
                    return

        reader = asyncio.ensure_future(receive())
        began = time.perf_counter()
        for i, offset in enumerate(range(0, len(audio), frame)):
            if reader.done():
                break
            await ws.send_bytes(audio[offset : offset + frame])
            if offset < speech_end <= offset + frame:
                # the true end lies inside this frame: its time is the frame's send time plus the part of it left
                times["speech_end"] = time.perf_counter() + (speech_end - offset - frame) / 32000
            delay = began + (i + 1) * FRAME_S - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.wait_for(reader, 30)
    return {"times": times, "events": events, "marks_s": [m / 32000 for m in marks], "end_s": speech_end / 32000}


async def bench_latency(server: Server, speech: dict[str, bytes], start: dict[str, Any]) -> dict[str, Any]:
    rows = []
    async with aiohttp.ClientSession() as session:
        await stream(session, server, [next(iter(speech.values()))], 0.0, start)  # warm-up
        for text, pcm in speech.items():
            got = await stream(session, server, [pcm], 0.0, start)
            t = got["times"]
            reply = next((e for e in got["events"] if e["type"] == "reply"), None)
            done = next((e for e in got["events"] if e["type"] == "done"), {"timings": {}})
            if reply is None or "speech_end" not in t:
                rows.append({"said": text, "error": got["events"][-1:]})
                continue
            rows.append({
                "said": text, "heard": reply["transcript"], "kind": reply["reply"]["kind"],
                "end_to_reply_ms": (t["reply"] - t["speech_end"]) * 1000,
                "end_to_stop_ms": (t["speech_stopped"] - t["speech_end"]) * 1000,
                "end_reason": done["timings"].get("end_reason"), "stt_wait_ms": done["timings"].get("stt_ms"),
            })  # fmt: skip
    ok = [r for r in rows if "end_to_reply_ms" in r]
    reasons: dict[str, int] = {}
    for r in ok:
        reasons[str(r["end_reason"])] = reasons.get(str(r["end_reason"]), 0) + 1
    return {
        "n": len(rows),
        "errors": [r for r in rows if "error" in r],
        "true_end_to_reply_ms": summary([r["end_to_reply_ms"] for r in ok]),
        "true_end_to_speech_stopped_ms": summary([r["end_to_stop_ms"] for r in ok]),
        "stt_wait_after_end_ms": summary([float(r["stt_wait_ms"] or 0) for r in ok]),
        "end_reasons": reasons,
        "done_share": round(sum(r["kind"] == "done" for r in ok) / max(1, len(ok)), 3),
    }


async def bench_cutoff(
    server: Server, parts: dict[str, tuple[bytes, bytes]], start: dict[str, Any], pause_s: float = 0.5
) -> dict[str, Any]:
    cut: list[list[str]] = []
    rows = 0
    async with aiohttp.ClientSession() as session:
        for text, (first, rest) in parts.items():
            got = await stream(session, server, [first, rest], pause_s, start)
            stopped = next((e for e in got["events"] if e["type"] == "speech_stopped"), None)
            reply = next((e for e in got["events"] if e["type"] == "reply"), None)
            rows += 1
            if stopped is None or stopped["at"] < got["marks_s"][1]:
                cut.append([text, reply["transcript"] if reply else ""])
    return {"n": rows, "pause_s": pause_s, "cut_off": len(cut), "rate": round(len(cut) / max(1, rows), 3), "cut": cut}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    heldout = load_heldout(args.commands)[: args.limit or None]
    commands = [c for c, _, _ in heldout]
    voices = Voices()
    if not args.skip_accuracy:
        results["accuracy"] = await bench_accuracy(
            voices, commands, ["piper-1.0", "piper-1.4", "espeak-150", "espeak-200"]
        )
    if args.skip_stream:
        return results
    speech = {rate: {c: sox_trim(await voices.speak(rate, c)) for c in commands} for rate in ("piper-1.0", "piper-1.4")}
    parts = {
        c: (sox_trim(await voices.speak("piper-1.0", a)), sox_trim(await voices.speak("piper-1.0", b)))
        for c, a, b in heldout
        if b
    }
    settings = {
        "default (end by understanding)": {},
        "before issue 16 (greedy, fixed 0.5 s window)": {
            "HEARTH_VOICE__STT_NBEST": "1", "HEARTH_VOICE__NBEST_CHOICE": "0", "HEARTH_VOICE__VAD_SILENCE_S": "0.5",
            "HEARTH_VOICE__END_QUICK_S": "0", "HEARTH_VOICE__END_INCOMPLETE_S": "0.5",
        },
        "understanding with a 0.7 s full window": {"HEARTH_VOICE__VAD_SILENCE_S": "0.7"},
    }  # fmt: skip
    if args.only_default:
        settings = dict(list(settings.items())[:1])
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in settings.items():
            server = Server(Path(tmp), {"HEARTH_VOICE__STT": "faster-whisper", "HEARTH_VOICE__TTS": "none", **env})
            try:
                part: dict[str, Any] = {"load_start": os.getloadavg()}
                for rate, texts in speech.items():
                    part[f"latency {rate}"] = await bench_latency(server, texts, {})
                    print(name, rate, json.dumps(part[f"latency {rate}"]["true_end_to_reply_ms"]), flush=True)
                part["cutoff 0.5 s pause"] = await bench_cutoff(server, parts, {})
                print(name, "cutoff", part["cutoff 0.5 s pause"]["cut_off"], flush=True)
                part["load_end"] = os.getloadavg()
                results[name] = part
            finally:
                server.stop()
    results["machine"]["loadavg_end"] = os.getloadavg()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="only the first N commands (0 = all)")
    parser.add_argument(
        "--commands",
        default="spoken_heldout.txt",
        help="command list in tests/data/voice (tuning: tuning_commands.txt)",
    )
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-stream", action="store_true")
    parser.add_argument("--only-default", action="store_true", help="stream with the default settings only")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    emit(asyncio.run(run(args)), args.json)


if __name__ == "__main__":
    main()
