"""Accuracy report of the embedded NLU: held-out sets, k-fold cross-validation on nlu_data/, confusions, latency.

Run from the repository root:
    .venv/bin/python bench/eval_nlu.py [--folds 5] [--write docs/bench/nlu.md] [--errors]

Trains a fresh model on nlu_data/ in a temporary directory, then scores
- tests/eval/natural.yml (natural phrasing, typos, speech slips; written before tuning, never trained on),
- tests/data/nlu_heldout.yml (the older held-out set of textbook phrasing),
- k stratified folds of nlu_data/ itself (train on k-1, score the rest),
with the demo home's names in the vocabulary: intent accuracy, entity precision/recall/F1, accuracy on the
destructive intents, destructive intents predicted for other requests, the commonest confusions and parse latency
(first parse of each utterance, and repeated parses).
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import NluConfig  # noqa: E402
from assistant.nlu.embedded import EmbeddedNluEngine  # noqa: E402
from assistant.nlu.evaluation import DESTRUCTIVE_INTENTS, Scores, score, to_annotated  # noqa: E402
from assistant.nlu.gazetteer import Gazetteer  # noqa: E402
from assistant.nlu.training_data import Example, TrainingData, load_training_data, parse_nlu_yaml  # noqa: E402
from bench.bench_nlu import demo_things, percentiles, time_parses  # noqa: E402

NATURAL = ROOT / "tests" / "eval" / "natural.yml"
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"


def _vocab(engine: EmbeddedNluEngine) -> Gazetteer:
    vocab = engine.new_vocabulary()
    for thing in demo_things():
        vocab.put(thing)
    return vocab


def evaluate_set(engine: EmbeddedNluEngine, path: Path) -> tuple[Scores, dict[str, float]]:
    data = parse_nlu_yaml(path.read_text(encoding="utf-8"), path.name)
    vocab = _vocab(engine)
    samples: list[float] = []

    def parse(text: str) -> Any:
        began = time.perf_counter()
        result = engine.parse_sync(text, vocab)
        samples.append(time.perf_counter() - began)
        return result

    scores = score(data.examples, data, parse, vocab, vocab.match)
    return scores, percentiles(samples)


def repeated_latency(engine: EmbeddedNluEngine, paths: list[Path], repeat: int) -> dict[str, float]:
    texts = [ex.text for p in paths for ex in parse_nlu_yaml(p.read_text(encoding="utf-8"), p.name).examples]
    return time_parses(engine, _vocab(engine), texts, repeat)


def write_training_yaml(data: TrainingData, examples: list[Example], path: Path) -> None:
    """One Rasa YAML file: the given examples plus every synonym, lookup and regex of `data`."""
    lines = ['version: "3.1"', "nlu:"]
    by_intent: dict[str, list[Example]] = {}
    for ex in examples:
        by_intent.setdefault(ex.intent, []).append(ex)
    for intent, items in sorted(by_intent.items()):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {to_annotated(ex)}" for ex in items]
    synonyms: dict[str, list[str]] = {}
    for text, value in data.synonyms.items():
        synonyms.setdefault(value, []).append(text)
    for value, texts in sorted(synonyms.items()):
        lines += [f"- synonym: {json.dumps(value)}", "  examples: |"]
        lines += [f"    - {t}" for t in texts]
    for name, items in sorted(data.lookups.items()):
        lines += [f"- lookup: {name}", "  examples: |"]
        lines += [f"    - {t}" for t in items]
    for name, items in sorted(data.regexes.items()):
        lines += [f"- regex: {name}", "  examples: |"]
        lines += [f"    - {t}" for t in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def folds_of(data: TrainingData, folds: int, seed: int = 0) -> list[tuple[list[Example], list[Example]]]:
    """Stratified k-fold splits of the training examples: (train, test) per fold, the same for every engine."""
    rng = random.Random(seed)
    assignment: list[tuple[int, Example]] = []
    for _, items in sorted(data.by_intent().items()):
        shuffled = list(items)
        rng.shuffle(shuffled)
        offset = rng.randrange(folds)
        assignment += [((k + offset) % folds, ex) for k, ex in enumerate(shuffled)]
    return [
        ([ex for f, ex in assignment if f != fold], [ex for f, ex in assignment if f == fold]) for fold in range(folds)
    ]


def cross_validate(data_dir: Path, folds: int, seed: int = 0) -> Scores:
    data = load_training_data(data_dir)
    total = Scores()
    for train, test in folds_of(data, folds, seed):
        with tempfile.TemporaryDirectory() as tmp:
            fold_data = Path(tmp) / "data"
            fold_data.mkdir()
            write_training_yaml(data, train, fold_data / "train.yml")
            engine = EmbeddedNluEngine(NluConfig(data_dir=fold_data, model_dir=Path(tmp) / "model"))
            engine.train()
            vocab = _vocab(engine)
            parse = functools.partial(engine.parse_sync, vocabulary=vocab)
            total.add(score(test, data, parse, vocab, vocab.match))
    return total


def confusions(scores: Scores, top: int) -> list[tuple[str, str, int]]:
    pairs = Counter({k: v for k, v in scores.confusion.items() if k[0] != k[1]})
    return [(g, p, n) for (g, p), n in pairs.most_common(top)]


def confusion_matrix(scores: Scores) -> list[str]:
    """A markdown matrix over the intents that have at least one error (rows gold, columns predicted)."""
    wrong = {g for (g, p), n in scores.confusion.items() if g != p and n} | {
        p for (g, p), n in scores.confusion.items() if g != p and n
    }
    labels = sorted(wrong)
    if not labels:
        return ["(no confusions)"]
    head = "| gold \\ predicted | " + " | ".join(labels) + " |"
    rows = [head, "|---" * (len(labels) + 1) + "|"]
    for g in labels:
        cells = []
        for p in labels:
            n = scores.confusion.get((g, p), 0)
            cells.append((f"**{n}**" if g == p else str(n)) if n else "")
        rows.append(f"| {g} | " + " | ".join(cells) + " |")
    return rows


def summary_row(name: str, s: Scores) -> str:
    return (
        f"| {name} | {s.total} | {s.accuracy:.3f} | {s.precision:.3f} / {s.recall:.3f} / **{s.f1:.3f}** | "
        f"{s.destructive_correct}/{s.destructive_total} | {s.false_destructive} |"
    )


def summary_table(natural: Scores, heldout: Scores) -> list[str]:
    """The markdown table's head and the rows of the two held-out sets (k-fold rows are appended by the caller)."""
    return [
        "| set | utterances | intent accuracy | entity P / R / F1 | destructive right | destructive predicted for "
        "another request |",
        "|---|---|---|---|---|---|",
        summary_row("natural (tests/eval/natural.yml)", natural),
        summary_row("held-out (tests/data/nlu_heldout.yml)", heldout),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "nlu_data")
    parser.add_argument("--folds", type=int, default=5, help="k for cross-validation on nlu_data (0 skips it)")
    parser.add_argument("--repeat", type=int, default=5, help="passes for the repeated-parse latency")
    parser.add_argument("--write", type=Path, help="also write the markdown report to this file")
    parser.add_argument("--errors", action="store_true", help="list every wrong utterance")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as model_dir:
        engine = EmbeddedNluEngine(NluConfig(data_dir=args.data_dir, model_dir=Path(model_dir)))
        began = time.perf_counter()
        report = engine.train()
        train_seconds = time.perf_counter() - began
        natural, natural_lat = evaluate_set(engine, NATURAL)
        heldout, heldout_lat = evaluate_set(engine, HELDOUT)
        repeated = repeated_latency(engine, [NATURAL, HELDOUT], args.repeat)
    kfold = cross_validate(args.data_dir, args.folds) if args.folds > 1 else None

    out = [
        "# NLU evaluation (embedded engine)",
        "",
        f"Command: `.venv/bin/python bench/eval_nlu.py --folds {args.folds}`; trained on {report.examples} examples "
        f"({report.metrics.get('samples')} samples, {report.metrics.get('features')} features) in "
        f"{train_seconds:.2f} s. Destructive intents: {', '.join(sorted(DESTRUCTIVE_INTENTS))}.",
        "",
        *summary_table(natural, heldout),
    ]
    if kfold is not None:
        out.append(summary_row(f"{args.folds}-fold cross-validation on nlu_data", kfold))
    out += [
        "",
        "Parse latency, demo home: first parse of each utterance "
        f"p50 {natural_lat['p50_ms']:.3f} ms, p99 {natural_lat['p99_ms']:.3f} ms (natural set), "
        f"p50 {heldout_lat['p50_ms']:.3f} ms, p99 {heldout_lat['p99_ms']:.3f} ms (held-out set); "
        f"repeated parses ({args.repeat} passes over both sets) p50 {repeated['p50_ms']:.3f} ms, "
        f"p99 {repeated['p99_ms']:.3f} ms.",
        "",
        "## Commonest confusions (natural set): gold → predicted",
        "",
    ]
    out += [f"- {g} → {p}: {n}" for g, p, n in confusions(natural, 15)] or ["- none"]
    out += ["", "## Confusion matrix, natural set (intents with an error only)", ""]
    out += confusion_matrix(natural)
    if kfold is not None:
        out += ["", f"## Commonest confusions ({args.folds}-fold): gold → predicted", ""]
        out += [f"- {g} → {p}: {n}" for g, p, n in confusions(kfold, 15)] or ["- none"]
    if natural.destructive_errors:
        out += ["", "## Destructive intents predicted for other requests (natural set)", ""]
        out += [f"- {line}" for line in natural.destructive_errors]
    text = "\n".join(out) + "\n"
    print(text)
    if args.errors:
        print("natural intent errors:")
        for line in natural.intent_errors:
            print("  ", line)
        print("natural entity errors:")
        for line in natural.entity_errors:
            print("  ", line)
        print("held-out intent errors:")
        for line in heldout.intent_errors:
            print("  ", line)
        print("held-out entity errors:")
        for line in heldout.entity_errors:
            print("  ", line)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
