"""Voice benchmark against a real `hearth serve` (faster-whisper tiny.en + Piper joe-medium) on loopback.

Measures: end of speech -> device command on the streaming WebSocket (VAD finds the end), TTS time to the first
audio chunk, STT real-time factor, 4 concurrent streams (latency, throughput, queue depth), server RSS with both models
loaded, VAD end-detection delay (Silero vs pymicro-vad), and spoken accuracy (espeak-ng, with and without biasing).

Run from the repository root:  .venv/bin/python bench/bench_voice.py [--rounds 20] [--json bench/results/voice.json]
Results go to docs/bench/voice.md (by hand, with the machine and the load it was under).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.speech.audio import STT_FORMAT, convert, wav_bytes  # noqa: E402
from assistant.speech.engine import AudioChunk, AudioFormat  # noqa: E402
from assistant.speech.piper import PiperTts  # noqa: E402
from assistant.speech.pool import SpeechPool  # noqa: E402
from assistant.speech.vad import MicroFrames, SileroFrames, SpeechDetector, VadEventType  # noqa: E402
from assistant.speech.whisper import FasterWhisperStt  # noqa: E402
from bench.report import emit  # noqa: E402
from tests.voice_fixtures import load_commands  # noqa: E402

# ~2 s commands for the streaming runs (Piper's voice), each with a device whose state changes
STREAM_COMMANDS = [
    "Turn on the kitchen lights.", "Set the living room lamp to 30 percent.", "Turn on the coffee maker.",
    "Make the kitchen lights blue.", "Set the thermostat to 22 degrees.", "Open the bedroom blinds.",
    "Turn on the ceiling fan.", "Switch on the porch light.", "Dim the floor lamp to 50 percent.",
    "Turn on the hallway light.", "Activate movie night.", "Set the bedroom ceiling light to 40 percent.",
    "Turn off the kitchen lights.", "Close the bedroom blinds.", "Turn off the ceiling fan.",
    "Turn on the desk lamp.", "Set the heating to 19 degrees.", "Turn off the porch light.",
    "Turn on the TV.", "Make the kitchen lights red.",
]  # fmt: skip
REPLIES = [
    "Turned on the kitchen lights.", "Set the living room lamp to 30 percent.", "The porch light is off.",
    "Set the thermostat to 22 degrees.", "Opened the bedroom blinds.", "The front door is locked.",
    "Made the kitchen lights blue.", "Are you sure you want to unlock the front door?", "Movie night is on.",
    "The bathroom sensor reads 21.5 degrees and 48% humidity.", "Turned off the ceiling fan.",
    "Closed the garage door.", "Okay, I won't.", "Sorry, I didn't catch that.", "Turned on the desk lamp.",
    "Dimmed the floor lamp to 50 percent.", "Good morning is on.", "Locked the front door.",
    "Which room is the lamp in?", "Turned on the hallway light.",
]  # fmt: skip


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": round(statistics.median(values), 1) if values else float("nan"),
        "p90": round(pct(values, 0.9), 1),
        "min": round(min(values), 1) if values else float("nan"),
        "max": round(max(values), 1) if values else float("nan"),
    }


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg": os.getloadavg(),
    }


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """`hearth serve` as a subprocess with the given HEARTH_* settings."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.db = tmp / f"bench-{len(env)}-{time.monotonic_ns()}.db"
        cli = [sys.executable, "-m", "assistant.cli"]
        self.env = {**os.environ, "HEARTH_LOG_LEVEL": "WARNING", **env}
        self.token = subprocess.run(
            [*cli, "token", "create", "--user", "demo", "--db", str(self.db)], capture_output=True, text=True,
            check=True, cwd=ROOT, env={**self.env, "HEARTH_VOICE__STT": "none", "HEARTH_VOICE__TTS": "none"},
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*cli, "serve", "--db", str(self.db), "--port", str(self.port), "--quiet"], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(1200):
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1) as resp:
                    if json.load(resp)["status"] == "ok":
                        break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("hearth serve did not start")
        self.start_s = time.perf_counter() - started

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def speak_all(tts: PiperTts, texts: list[str]) -> dict[str, tuple[bytes, AudioFormat]]:
    out = {}
    for text in texts:
        chunks = [c async for c in tts.synthesize(text)]
        out[text] = (b"".join(c.audio for c in chunks), chunks[0].format)
    return out


async def stream_turn(
    session: aiohttp.ClientSession, server: Server, speech16: bytes, *, silence_s: float, speak: bool = True
) -> dict[str, Any]:
    """Stream 0.3 s silence + speech + silence in real time until `done`; time the events on the client."""
    url = server.url.replace("http", "ws", 1) + "/api/v1/voice/stream"
    frame = int(0.02 * STT_FORMAT.rate) * 2
    times: dict[str, float] = {}
    async with session.ws_connect(url, headers=server.headers, max_msg_size=16 * 1024 * 1024) as ws:
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"type": "start", "silence_s": silence_s, "speak": speak})
        assert (await ws.receive_json())["type"] == "listening"
        audio = bytes(int(0.3 * STT_FORMAT.rate) * 2) + speech16
        speech_end = len(audio)
        audio += bytes(int(4.0 * STT_FORMAT.rate) * 2)
        events: dict[str, dict[str, Any]] = {}

        async def receive() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    times.setdefault("first_audio", time.perf_counter())
                    continue
                event = json.loads(msg.data)
                times.setdefault(event["type"], time.perf_counter())
                events.setdefault(event["type"], event)
                if event["type"] in ("done", "error"):
                    return

        reader = asyncio.ensure_future(receive())
        began = time.perf_counter()
        for i, offset in enumerate(range(0, len(audio), frame)):
            if reader.done():
                break
            await ws.send_bytes(audio[offset : offset + frame])
            if offset < speech_end <= offset + frame:
                times["speech_end"] = time.perf_counter()
            delay = began + (i + 1) * 0.02 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.wait_for(reader, 30)
    if "error" in events:
        raise RuntimeError(events["error"])
    done = events["done"]["timings"]
    end = times["speech_end"]
    return {
        "server": done,
        "transcript": events["reply"]["transcript"],
        "kind": events["reply"]["reply"]["kind"],
        "client_vad_stop_ms": (times["speech_stopped"] - end) * 1000,
        "client_reply_ms": (times["reply"] - end) * 1000,
        "client_first_audio_ms": (times["first_audio"] - end) * 1000 if "first_audio" in times else None,
    }


async def bench_streaming(server: Server, speech: dict[str, bytes], rounds: int, silence_s: float) -> dict[str, Any]:
    rows = []
    async with aiohttp.ClientSession() as session:
        await stream_turn(session, server, speech[STREAM_COMMANDS[0]], silence_s=silence_s)  # warm-up
        for i in range(rounds):
            text = STREAM_COMMANDS[i % len(STREAM_COMMANDS)]
            rows.append({"said": text, **await stream_turn(session, server, speech[text], silence_s=silence_s)})
    command = [r["server"]["command_ms"] for r in rows]
    return {
        "silence_s": silence_s,
        "vad_stop_to_command_ms": summary(command),
        "vad_stop_to_first_audio_ms": summary([r["server"]["first_audio_ms"] for r in rows]),
        "speech_end_to_vad_stop_ms_client": summary([r["client_vad_stop_ms"] for r in rows]),
        "speech_end_to_reply_ms_client": summary([r["client_reply_ms"] for r in rows]),
        "speech_end_to_first_audio_ms_client": summary(
            [r["client_first_audio_ms"] for r in rows if r["client_first_audio_ms"] is not None]
        ),
        "residual_stt_wait_ms": summary([r["server"]["stt_ms"] for r in rows]),
        "turn_ms": summary([r["server"]["turn_ms"] for r in rows]),
        "speculative_share": sum(r["server"]["speculative"] for r in rows) / len(rows),
        "done_share": sum(r["kind"] == "done" for r in rows) / len(rows),
        "misheard": [(r["said"], r["transcript"]) for r in rows if r["kind"] != "done"],
    }


async def bench_post(server: Server, wavs: dict[str, bytes], rounds: int) -> dict[str, Any]:
    rows = []
    async with aiohttp.ClientSession() as session:
        for i in range(rounds + 1):
            text = STREAM_COMMANDS[i % len(STREAM_COMMANDS)]
            started = time.perf_counter()
            async with session.post(
                server.url + "/api/v1/voice", data=wavs[text], headers={**server.headers, "Content-Type": "audio/wav"}
            ) as resp:
                body = await resp.json()
            if i:
                rows.append((body["timings"], (time.perf_counter() - started) * 1000))
    return {
        "request_ms_client": summary([r[1] for r in rows]),
        "stt_ms": summary([r[0]["stt_ms"] for r in rows]),
        "command_ms": summary([r[0]["command_ms"] for r in rows]),
        "tts_first_ms": summary([r[0]["tts_first_ms"] for r in rows]),
        "first_audio_ms": summary([r[0]["first_audio_ms"] for r in rows]),
    }


async def bench_concurrent(server: Server, speech: dict[str, bytes], streams: int, per_stream: int) -> dict[str, Any]:
    """`streams` microphones at once, each saying `per_stream` commands back to back in real time."""
    async with aiohttp.ClientSession() as session:

        async def one(k: int) -> list[dict[str, Any]]:
            out = []
            for j in range(per_stream):
                text = STREAM_COMMANDS[(k * per_stream + j) % len(STREAM_COMMANDS)]
                out.append(await stream_turn(session, server, speech[text], silence_s=0.5))
            return out

        started = time.perf_counter()
        results = await asyncio.gather(*(one(k) for k in range(streams)))
        wall = time.perf_counter() - started
        async with session.get(server.url + "/api/v1/voice", headers=server.headers) as resp:
            status = await resp.json()
    rows = [r for rs in results for r in rs]
    return {
        "streams": streams,
        "turns": len(rows),
        "wall_s": round(wall, 1),
        "turns_per_min": round(len(rows) / wall * 60, 1),
        "vad_stop_to_command_ms": summary([r["server"]["command_ms"] for r in rows]),
        "vad_stop_to_first_audio_ms": summary([r["server"]["first_audio_ms"] for r in rows]),
        "speech_end_to_reply_ms_client": summary([r["client_reply_ms"] for r in rows]),
        "done_share": sum(r["kind"] == "done" for r in rows) / len(rows),
        "queue": status["queue"],
    }


async def bench_burst(server: Server, wavs: dict[str, bytes], clients: int, each: int) -> dict[str, Any]:
    """`clients` POSTs in flight at all times (no pacing): the throughput ceiling and the queue it builds."""
    texts = list(wavs)
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:

        async def one(k: int) -> None:
            for j in range(each):
                text = texts[(k + j) % len(texts)]
                started = time.perf_counter()
                async with session.post(
                    server.url + "/api/v1/voice",
                    data=wavs[text],
                    headers={**server.headers, "Content-Type": "audio/wav"},
                ) as resp:
                    await resp.read()
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(clients)))
        wall = time.perf_counter() - started
        async with session.get(server.url + "/api/v1/voice", headers=server.headers) as resp:
            status = await resp.json()
    return {
        "clients": clients,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 2),
        "latency_ms": summary(latencies),
        "queue": status["queue"],
    }


async def bench_engines(texts: list[str], workers: int, threads: int) -> dict[str, Any]:
    """In-process: TTS first chunk (cold and cached), STT real-time factor, per worker thread count."""
    pool = SpeechPool(workers)
    tts = PiperTts(pool=pool, cache_sentences=0, threads=threads)
    stt = FasterWhisperStt(pool=pool, threads=threads)
    await tts.start()
    await stt.start()
    first: list[float] = []
    total: list[float] = []
    for text in REPLIES:
        started = time.perf_counter()
        chunks: list[AudioChunk] = []
        async for chunk in tts.synthesize(text):
            if not chunks:
                first.append((time.perf_counter() - started) * 1000)
            chunks.append(chunk)
        total.append((time.perf_counter() - started) * 1000)
    cached = PiperTts(pool=pool, threads=threads)
    await cached.start()
    for text in REPLIES:
        _ = [c async for c in cached.synthesize(text)]
    hits = []
    for text in REPLIES:
        started = time.perf_counter()
        async for _chunk in cached.synthesize(text):
            hits.append((time.perf_counter() - started) * 1000)
            break
    spoken = await speak_all(tts, texts)
    rtf: list[float] = []
    stt_ms: list[float] = []
    audio_s = 0.0
    proc_s = 0.0
    for pcm, fmt in spoken.values():
        result = await stt.transcribe(convert(pcm, fmt), STT_FORMAT, ["kitchen lights", "desk lamp"])
        rtf.append(result.processing_seconds / result.audio_seconds)
        stt_ms.append(result.processing_seconds * 1000)
        audio_s += result.audio_seconds
        proc_s += result.processing_seconds
    return {
        "threads_per_job": stt.threads,
        "tts_first_chunk_ms_cold": summary(first),
        "tts_whole_reply_ms_cold": summary(total),
        "tts_first_chunk_ms_cached": summary(hits),
        "stt_ms": summary(stt_ms),
        "stt_rtf": {"median": round(statistics.median(rtf), 3), "overall": round(proc_s / audio_s, 3)},
        "stt_audio_s_median": round(statistics.median([fmt.seconds(len(p)) for p, fmt in spoken.values()]), 2),
    }


def bench_window(spoken: dict[str, tuple[bytes, AudioFormat]], threads: int) -> dict[str, Any]:
    """faster-whisper's own transcribe() (30 s window; chunk_length=10) on the same commands, for comparison."""
    import numpy as np
    from faster_whisper import WhisperModel

    from assistant.speech.whisper import default_model_path

    model = WhisperModel(
        str(default_model_path()), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
    )
    out: dict[str, Any] = {}
    for chunk_length in (30, 10):
        took = []
        for pcm, fmt in spoken.values():
            audio = np.frombuffer(convert(pcm, fmt), "<i2").astype(np.float32) / 32768.0
            started = time.perf_counter()
            segments, _ = model.transcribe(
                audio, language="en", beam_size=1, vad_filter=False, without_timestamps=True,
                condition_on_previous_text=False, chunk_length=chunk_length,
            )  # fmt: skip
            _ = " ".join(s.text for s in segments)
            took.append((time.perf_counter() - started) * 1000)
        out[f"faster_whisper_transcribe_chunk_length_{chunk_length}_ms"] = summary(took)
    return out


def bench_vad(speech: dict[str, bytes], silence_s: float = 0.5) -> dict[str, Any]:
    """How long after the last word each detector decides the utterance is over (trailing silence included)."""
    out: dict[str, Any] = {}
    for model in (SileroFrames, MicroFrames):
        delays = []
        for pcm in speech.values():
            detector = SpeechDetector(model(), silence_s=silence_s)
            audio = bytes(16000) + pcm + bytes(3 * 32000)
            stop = None
            for offset in range(0, len(audio), 640):
                for event in detector.process(audio[offset : offset + 640]):
                    if event.type is VadEventType.SPEECH_STOPPED and stop is None:
                        stop = event.at
            if stop is not None:
                delays.append((stop - (0.5 + len(pcm) / 32000)) * 1000)
        out[model.name] = summary(delays)
    return out


async def bench_accuracy() -> dict[str, Any]:
    """espeak-ng at 150 and 190 wpm on the held-out commands, biased and not, plus the hotwords layout."""
    from tests.conftest import make_config, start_api
    from tests.voice_fixtures import spoken_accuracy

    texts = load_commands()
    tuning = load_commands("tuning_commands.txt")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for bias in (True, False):
            config = make_config(
                Path(tmp) / str(bias), voice={"stt": "faster-whisper", "tts": "none", "vocabulary_bias": bias}
            )
            runner, api = await start_api(config)
            try:
                home_id, _ = api.core.default_principal()
                for name, items in (("heldout", texts), ("tuning", tuning)):
                    for speed in (150, 190):
                        score = await spoken_accuracy(api.core, home_id, items, speed)
                        out[f"{name} bias={bias} espeak-{speed}"] = {
                            "right": score.right,
                            "total": score.total,
                            "share": round(score.share, 3),
                            "stt_ms_median": round(statistics.median(score.stt_seconds) * 1000, 1),
                            "misses": score.misses,
                        }
                if bias:  # same server, the recogniser switched to faster-whisper's hotwords layout
                    stt = api.core.stt
                    assert isinstance(stt, FasterWhisperStt)
                    stt.bias = "hotwords"
                    for speed in (150, 190):
                        score = await spoken_accuracy(api.core, home_id, texts, speed)
                        out[f"heldout hotwords espeak-{speed}"] = {
                            "right": score.right, "total": score.total, "share": round(score.share, 3),
                        }  # fmt: skip
                    stt.bias = "prompt"
            finally:
                await api.session.close()
                await runner.cleanup()
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    tts = PiperTts()
    spoken = await speak_all(tts, STREAM_COMMANDS)
    speech16 = {t: convert(p, f) for t, (p, f) in spoken.items()}
    wavs = {t: wav_bytes(p, f) for t, (p, f) in spoken.items()}
    results["stream_command_audio_s"] = summary([len(p) / 32000 for p in speech16.values()])
    results["vad_end_detection_ms"] = bench_vad(speech16)
    if not args.skip_engines:
        results["engines"] = await bench_engines(STREAM_COMMANDS, args.workers, args.threads)
        results["engines"].update(bench_window(spoken, results["engines"]["threads_per_job"]))
    with tempfile.TemporaryDirectory() as tmp:
        base = Server(Path(tmp), {"HEARTH_VOICE__STT": "none", "HEARTH_VOICE__TTS": "none"})
        results["rss_mb_voice_off"] = round(rss_mb(base.proc.pid), 1)
        base.stop()
        voice = {
            "HEARTH_VOICE__STT": "faster-whisper",
            "HEARTH_VOICE__TTS": "piper",
            "HEARTH_VOICE__WORKERS": str(args.workers),
            "HEARTH_VOICE__THREADS": str(args.threads),
        }
        # replies repeat, and repeats come from the TTS cache: measure without it first (every reply synthesized)
        cold = Server(Path(tmp), {**voice, "HEARTH_VOICE__TTS_CACHE": "0"})
        try:
            results["server_start_s"] = round(cold.start_s, 2)
            results["rss_mb_models_loaded"] = round(rss_mb(cold.proc.pid), 1)
            results["no_tts_cache"] = {
                "streaming_silence_0.5": await bench_streaming(cold, speech16, args.rounds, 0.5),
                "concurrent_4_streams": await bench_concurrent(cold, speech16, 4, args.per_stream),
                "burst_4_posts": await bench_burst(cold, wavs, 4, args.per_stream),
            }
            results["rss_mb_after_load"] = round(rss_mb(cold.proc.pid), 1)
        finally:
            cold.stop()
        server = Server(Path(tmp), voice)
        try:
            results["default"] = {
                "streaming_silence_0.5": await bench_streaming(server, speech16, args.rounds, 0.5),
                "streaming_silence_0.3": await bench_streaming(server, speech16, args.rounds, 0.3),
                "post": await bench_post(server, wavs, args.rounds),
            }
        finally:
            server.stop()
    if not args.skip_accuracy:
        results["accuracy"] = await bench_accuracy()
    results["machine"]["loadavg_end"] = os.getloadavg()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="streamed commands per setting")
    parser.add_argument("--per-stream", type=int, default=5, help="commands per stream in the concurrent run")
    parser.add_argument("--workers", type=int, default=2, help="voice.workers (speech jobs at once)")
    parser.add_argument("--threads", type=int, default=0, help="voice.threads per job (0 = cores // workers)")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    emit(asyncio.run(run(args)), args.json)


if __name__ == "__main__":
    main()
