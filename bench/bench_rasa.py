"""Rasa DIET beside the embedded engine on the same data: accuracy, entity F1, destructive safety, latency, cost.

Run from the repository root (needs ./scripts/setup-rasa; takes minutes, most of it Rasa training):
    .venv/bin/python -m bench.bench_rasa [--folds 0] [--pipeline assistant/nlu/rasa_pipeline.yml] [--write FILE]

Trains a Rasa model from nlu_data/ with the shipped pipeline (`hearth train --backend rasa` does the same), serves it
with `rasa run --enable-api` on loopback, and scores through Hearth's RasaNluEngine (so names are resolved against the
demo home exactly as at run time) on tests/eval/natural.yml and tests/data/nlu_heldout.yml, which neither engine
trains on. With --folds k, also k-fold cross-validation on nlu_data/ (k more trainings). Reports training time and
peak memory, server load time and memory, and parse latency over HTTP (p50/p99).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import NluConfig  # noqa: E402
from assistant.nlu.evaluation import Scores, score  # noqa: E402
from assistant.nlu.rasa import MODEL_NAME, PIPELINE, RasaNluEngine, rasa_env, rasa_venv  # noqa: E402
from assistant.nlu.result import NluResult  # noqa: E402
from assistant.nlu.training_data import Example, load_training_data, parse_nlu_yaml  # noqa: E402
from bench.bench_nlu import demo_things, percentiles  # noqa: E402
from bench.eval_nlu import HELDOUT, NATURAL, folds_of, summary_row, summary_table, write_training_yaml  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(config: NluConfig) -> tuple[float, float]:
    """Train with Rasa in its own environment; (seconds, peak RSS of the training process in MB)."""
    engine = RasaNluEngine(config)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = engine.train()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return report.seconds, max(peak, before) / 1024


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Server:
    """`rasa run --enable-api` on a loopback port, started and stopped by the benchmark."""

    def __init__(self, venv: Path, model: Path, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "rasa-run.log").open("wb")
        began = time.perf_counter()
        cmd = [str(venv / "bin" / "rasa"), "run", "--enable-api", "-m", str(model), "-i", "127.0.0.1",
               "-p", str(self.port)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, cwd=workdir, env=rasa_env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while True:
            try:
                with urllib.request.urlopen(self.url + "/status", timeout=2) as resp:
                    if resp.status == 200 and b"model_file" in resp.read():
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rasa run did not start; see " + str(workdir / "rasa-run.log"))
            time.sleep(0.5)
        self.load_seconds = time.perf_counter() - began

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


async def _parse_all(engine: RasaNluEngine, texts: list[str]) -> tuple[dict[str, NluResult], list[float]]:
    vocab = engine.new_vocabulary()
    for thing in demo_things():
        vocab.put(thing)
    results: dict[str, NluResult] = {}
    samples: list[float] = []
    try:
        for text in texts:
            began = time.perf_counter()
            results[text] = await engine.parse(text, vocab)
            samples.append(time.perf_counter() - began)
    finally:
        await engine.close()
    if engine.status.fallbacks:
        raise RuntimeError(f"{engine.status.fallbacks} parses fell back to the embedded engine: {engine.status}")
    return results, samples


def score_with(config: NluConfig, url: str, examples: list[Example], data_dir: Path) -> tuple[Scores, list[float]]:
    engine = RasaNluEngine(replace(config, rasa_url=url, rasa_fallback=False, rasa_timeout_s=30))
    engine.local.load_sync()
    results, samples = asyncio.run(_parse_all(engine, [ex.text for ex in examples]))
    vocab = engine.new_vocabulary()
    for thing in demo_things():
        vocab.put(thing)
    data = load_training_data(data_dir)
    return score(examples, data, results.__getitem__, vocab, vocab.match), samples


def evaluate(config: NluConfig, venv: Path, workdir: Path, sets: dict[str, list[Example]]) -> dict[str, Any]:
    train_s, train_mb = train(config)
    server = Server(venv, config.model_dir / "rasa" / f"{MODEL_NAME}.tar.gz", workdir)
    try:
        out: dict[str, Any] = {"train_s": train_s, "train_mb": train_mb, "load_s": server.load_seconds}
        for name, examples in sets.items():
            out[name] = score_with(config, server.url, examples, config.data_dir)
        out["server_mb"] = rss_mb(server.proc.pid)
    finally:
        server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", type=Path, default=PIPELINE)
    parser.add_argument("--folds", type=int, default=0, help="k-fold cross-validation with Rasa (k trainings)")
    parser.add_argument("--write", type=Path, help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    args.pipeline = args.pipeline.resolve()  # Rasa trains in another working directory
    venv = rasa_venv(NluConfig(rasa_venv=os.environ.get("HEARTH_NLU__RASA_VENV", "")))
    if not (venv / "bin" / "rasa").exists():
        print(f"no Rasa in {venv}: run ./scripts/setup-rasa", file=sys.stderr)
        return 2
    sets = {name: parse_nlu_yaml(path.read_text(encoding="utf-8"), path.name).examples
            for name, path in (("natural", NATURAL), ("heldout", HELDOUT))}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = NluConfig(model_dir=work / "models", rasa_venv=str(venv), rasa_pipeline=str(args.pipeline))
        main_run = evaluate(config, venv, work, sets)
        kfold: Scores | None = None
        if args.folds > 1:
            data = load_training_data(config.data_dir)
            kfold = Scores()
            for k, (train_ex, test_ex) in enumerate(folds_of(data, args.folds)):
                fold_dir = work / f"fold{k}"
                (fold_dir / "data").mkdir(parents=True)
                write_training_yaml(data, train_ex, fold_dir / "data" / "train.yml")
                fold_config = replace(config, data_dir=fold_dir / "data", model_dir=fold_dir / "models")
                fold_run = evaluate(fold_config, venv, fold_dir, {"test": test_ex})
                kfold.add(fold_run["test"][0])

    natural, natural_lat = main_run["natural"]
    heldout, heldout_lat = main_run["heldout"]
    lat = percentiles(natural_lat + heldout_lat)
    out = [
        "# NLU evaluation (Rasa DIET through Hearth's rasa engine)",
        "",
        f"Command: `.venv/bin/python -m bench.bench_rasa --folds {args.folds}`; pipeline "
        f"`{args.pipeline.relative_to(ROOT) if args.pipeline.is_relative_to(ROOT) else args.pipeline}`.",
        "",
        *summary_table(natural, heldout),
    ]
    if kfold is not None:
        out.append(summary_row(f"{args.folds}-fold cross-validation on nlu_data", kfold))
    out += [
        "",
        f"Training {main_run['train_s']:.0f} s (peak RSS {main_run['train_mb']:.0f} MB); server load "
        f"{main_run['load_s']:.0f} s, server RSS {main_run['server_mb']:.0f} MB; parse over HTTP through the engine "
        f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms.",
    ]
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
