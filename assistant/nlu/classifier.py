"""The intent classifier: multinomial logistic regression trained with scikit-learn, run in pure numpy.

The model is a weight matrix (features x intents) and a bias vector. Inference sums the weight rows of the active
features (each side scaled to unit length), adds the bias and takes a softmax: no scikit-learn at run time. Saved as
model.npz (arrays) + meta.json (feature vocabulary, labels, data hash, versions) in one directory.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ErrorCode, NluError
from assistant.nlu.featurize import Delexicalised, char_features, word_features

RECENT_SIZE = 4096
MODEL_FILE = "model.npz"
META_FILE = "meta.json"


class IntentClassifier:
    """Feature vocabulary, weights and labels; `predict` gives one probability per label."""

    def __init__(self, labels: list[str], vocab: dict[str, int], weights: np.ndarray, bias: np.ndarray) -> None:
        self.labels = labels
        self.vocab = vocab
        self.weights = weights
        self.bias = bias
        # People say the same few things over and over, and delexicalised ("turn on the __device__") even more
        # so: remember recent answers. The result depends only on the words, so this is exact.
        self._recent: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = OrderedDict()
        self._ranked: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, float], ...]] = (
            OrderedDict()
        )

    def ranking(self, d: Delexicalised, top: int) -> tuple[tuple[str, float], ...]:
        """The `top` most likely labels with their probabilities, best first (remembered like `predict`)."""
        key = (tuple(d.words), tuple(d.extras))
        found = self._ranked.get(key)
        if found is not None:
            self._ranked.move_to_end(key)
            return found
        probs = self.predict(d)
        order = np.argsort(-probs)[:top]
        ranked = tuple((self.labels[int(i)], float(probs[int(i)])) for i in order)
        self._ranked[key] = ranked
        if len(self._ranked) > RECENT_SIZE:
            self._ranked.popitem(last=False)
        return ranked

    # -- inference ----------------------------------------------------------------------------------------------
    def predict(self, d: Delexicalised) -> np.ndarray:
        """Probabilities over `labels` for one delexicalised utterance."""
        key = (tuple(d.words), tuple(d.extras))
        found = self._recent.get(key)
        if found is not None:
            self._recent.move_to_end(key)
            return found
        probs = self._predict(d)
        probs.flags.writeable = False
        self._recent[key] = probs
        if len(self._recent) > RECENT_SIZE:
            self._recent.popitem(last=False)
        return probs

    def _predict(self, d: Delexicalised) -> np.ndarray:
        scores = self.bias.astype(np.float64)
        for feats in (word_features(d), char_features(d)):
            if not feats:
                continue
            idx = [i for i in map(self.vocab.get, feats) if i is not None]
            if idx:
                scores = scores + self.weights[idx].sum(axis=0) / math.sqrt(len(feats))
        scores = scores - scores.max()
        exp = np.exp(scores)
        probs: np.ndarray = exp / exp.sum()
        return probs

    # -- training -----------------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        samples: Sequence[Delexicalised],
        labels: Sequence[str],
        c: float = 20.0,
        max_iter: int = 300,
    ) -> IntentClassifier:
        """Train on delexicalised utterances (scikit-learn is imported here only)."""
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression

        names = sorted(set(labels))
        if len(names) < 2:
            raise NluError(ErrorCode.VALIDATION, "training needs examples of at least two intents")
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, d in enumerate(samples):
            for feats in (word_features(d), char_features(d)):
                if not feats:
                    continue
                scale = 1.0 / math.sqrt(len(feats))
                for f in feats:
                    rows.append(r)
                    cols.append(vocab.setdefault(f, len(vocab)))
                    vals.append(scale)
        x = csr_matrix((vals, (rows, cols)), shape=(len(samples), len(vocab)), dtype=np.float64)
        label_index = {name: i for i, name in enumerate(names)}
        y = np.array([label_index[name] for name in labels])
        # "sag" is by far the fastest solver on these small, row-normalised sparse matrices (about 1 s).
        model = LogisticRegression(C=c, solver="sag", max_iter=max_iter, tol=3e-3, random_state=0)
        model.fit(x, y)
        weights = np.ascontiguousarray(model.coef_.T, dtype=np.float32)
        bias = np.asarray(model.intercept_, dtype=np.float32)
        return cls(names, vocab, weights, bias)

    # -- persistence --------------------------------------------------------------------------------------------
    def save(self, directory: Path, meta: dict[str, Any]) -> Path:
        """Write model.npz and meta.json (with `meta` merged in) atomically enough for one writer."""
        directory.mkdir(parents=True, exist_ok=True)
        model_path = directory / MODEL_FILE
        tmp = directory / (MODEL_FILE + ".tmp.npz")
        np.savez(tmp, weights=self.weights, bias=self.bias)
        tmp.replace(model_path)
        vocab_list = [""] * len(self.vocab)
        for name, i in self.vocab.items():
            vocab_list[i] = name
        body = {**meta, "labels": self.labels, "features": vocab_list}
        meta_tmp = directory / (META_FILE + ".tmp")
        meta_tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        meta_tmp.replace(directory / META_FILE)
        return model_path

    @staticmethod
    def read_meta(directory: Path) -> dict[str, Any] | None:
        """The saved meta.json, or None when there is no complete model in `directory`."""
        meta_path = directory / META_FILE
        if not meta_path.is_file() or not (directory / MODEL_FILE).is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any]) -> IntentClassifier:
        """Load the arrays saved next to `meta`."""
        try:
            with np.load(directory / MODEL_FILE) as arrays:
                weights = np.ascontiguousarray(arrays["weights"], dtype=np.float32)
                bias = np.asarray(arrays["bias"], dtype=np.float32)
        except (OSError, KeyError, ValueError) as exc:
            raise NluError(ErrorCode.NOT_TRAINED, f"the NLU model in {directory} cannot be read: {exc}") from exc
        try:
            labels = [str(x) for x in meta["labels"]]
            vocab = {str(name): i for i, name in enumerate(meta["features"])}
        except (KeyError, TypeError) as exc:
            raise NluError(ErrorCode.NOT_TRAINED, f"the NLU model meta.json in {directory} is incomplete") from exc
        if weights.shape != (len(vocab), len(labels)) or bias.shape != (len(labels),):
            raise NluError(ErrorCode.NOT_TRAINED, f"the NLU model in {directory} does not match its meta.json")
        return cls(labels, vocab, weights, bias)
