"""Loading Rasa 3.x NLU YAML (intents, annotated entities, synonyms, lookups, regexes) into typed, checked data."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import ErrorCode, NluError
from assistant.nlu.result import ENTITIES, INTENTS

# [text](entity) / [text](entity:value) / [text]{"entity": ..., "value": ...} / [text][{...}, {...}]
_ANNOTATION_RE = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    r"(?:\((?P<short>[^()]*)\)|(?P<dict>\{[^{}]*\})|\[(?P<list>\s*\{[^\[\]]*\}\s*)\])"
)
_SECTION_KEYS = {"intent", "synonym", "lookup", "regex"}
_ALLOWED_KEYS = {
    "intent": {"intent", "examples", "metadata"},
    "synonym": {"synonym", "examples"},
    "lookup": {"lookup", "examples"},
    "regex": {"regex", "examples"},
}
DATA_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class EntitySpan:
    """One annotated entity inside an example, with offsets into the example's plain text."""

    entity: str
    value: str  # the annotated value, or the annotated text when none was given
    start: int
    end: int
    text: str
    explicit_value: bool = False
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """One training utterance with its intent and entities; `text` has the annotation markup removed."""

    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    source: str = ""  # "file.yml:12"


@dataclass(slots=True)
class TrainingData:
    """Everything read from an NLU data directory."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lowercased text -> canonical value
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    data_hash: str = ""
    conflicts: list[str] = field(default_factory=list)  # the same text under two intents

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def value_of(self, span: EntitySpan) -> str:
        """The canonical value of an annotated span: its explicit value, else a synonym, else its text."""
        if span.explicit_value:
            return span.value
        return self.synonyms.get(span.text.lower(), span.value)

    def by_intent(self) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = {}
        for ex in self.examples:
            out.setdefault(ex.intent, []).append(ex)
        return out


def _error(message: str, source: str, **details: Any) -> NluError:
    return NluError(ErrorCode.VALIDATION, f"{source}: {message}", {"source": source, **details})


def data_files(directory: Path) -> list[Path]:
    """The NLU data files of a directory (and its subdirectories), in a stable order."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES)


def hash_files(files: Iterable[Path], root: Path) -> str:
    """A content hash of the data files (names and bytes), used to tell whether a model is stale."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def data_hash(directory: Path) -> str:
    """The hash `load_training_data(directory).data_hash` would have, without parsing."""
    return hash_files(data_files(directory), directory)


def load_training_data(directory: Path) -> TrainingData:
    """Read every *.yml / *.yaml file under `directory`; raise NluError(VALIDATION) on anything malformed."""
    files = data_files(directory)
    if not files:
        raise NluError(
            ErrorCode.VALIDATION,
            f"no NLU training data (*.yml, *.yaml) in {directory}",
            {"directory": str(directory)},
        )
    data = TrainingData(files=files, data_hash=hash_files(files, directory))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _error(f"cannot read: {exc}", path.name) from exc
        parse_nlu_yaml(text, path.name, into=data)
    if not data.examples:
        raise NluError(ErrorCode.VALIDATION, f"no intent examples in {directory}", {"directory": str(directory)})
    seen: dict[str, Example] = {}
    for ex in data.examples:
        key = " ".join(ex.text.lower().split())
        other = seen.setdefault(key, ex)
        if other.intent != ex.intent:
            data.conflicts.append(f"{ex.text!r}: {other.intent} ({other.source}) and {ex.intent} ({ex.source})")
    return data


def parse_nlu_yaml(text: str, source: str, into: TrainingData | None = None) -> TrainingData:
    """Parse one Rasa NLU YAML document; `source` names it in errors."""
    data = into if into is not None else TrainingData()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise _error(f"invalid YAML: {problem}", where) from exc
    if root is None:
        return data
    if not isinstance(root, yaml.MappingNode):
        raise _error("the top level must be a mapping with an `nlu:` list", f"{source}:{root.start_mark.line + 1}")
    for key_node, value_node in root.value:
        if _scalar(key_node) != "nlu":
            continue  # version, stories, rules, responses... belong to other readers
        if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            raise _error("`nlu:` must be a list of items", f"{source}:{value_node.start_mark.line + 1}")
        for item in value_node.value:
            _parse_item(item, source, data)
    return data


def _scalar(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _parse_item(node: yaml.Node, source: str, data: TrainingData) -> None:
    where = f"{source}:{node.start_mark.line + 1}"
    if not isinstance(node, yaml.MappingNode):
        raise _error("each `nlu:` item must be a mapping (intent/synonym/lookup/regex + examples)", where)
    fields_: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node)
        if key is None:
            raise _error("keys must be plain strings", where)
        fields_[key] = value_node
    kinds = _SECTION_KEYS & fields_.keys()
    if len(kinds) != 1:
        raise _error("an item needs exactly one of intent, synonym, lookup, regex", where)
    kind = kinds.pop()
    unknown = fields_.keys() - _ALLOWED_KEYS[kind]
    if unknown:
        raise _error(f"unknown key(s) {sorted(unknown)} in a {kind} item", where)
    name = _scalar(fields_[kind])
    if not name or not name.strip():
        raise _error(f"the {kind} needs a name", where)
    name = name.strip()
    if "examples" not in fields_:
        raise _error(f"{kind} {name!r} has no examples", where)
    lines = list(_example_lines(fields_["examples"], source, f"{kind} {name!r}"))
    if kind == "intent":
        if name not in INTENTS:
            raise _error(
                f"unknown intent {name!r}; valid intents are listed in assistant/nlu/result.py INTENTS",
                where,
                intent=name,
            )
        for line_no, line in lines:
            data.examples.append(parse_example(line, name, f"{source}:{line_no}"))
    elif kind == "synonym":
        for _, line in lines:
            data.synonyms[line.lower()] = name
    elif kind == "lookup":
        data.lookups.setdefault(name, []).extend(line for _, line in lines)
    else:
        for line_no, line in lines:
            try:
                re.compile(line)
            except re.error as exc:
                raise _error(f"regex {name!r} does not compile: {exc}", f"{source}:{line_no}") from exc
        data.regexes.setdefault(name, []).extend(line for _, line in lines)


def _example_lines(node: yaml.Node, source: str, what: str) -> Iterable[tuple[int, str]]:
    """(1-based line number, example text) for an `examples:` block string or list."""
    if isinstance(node, yaml.ScalarNode):
        block = node.style in ("|", ">")
        first = node.start_mark.line + (2 if block else 1)
        for offset, raw in enumerate(str(node.value).split("\n")):
            line_no = first + offset if block else first
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not stripped.startswith("-"):
                where = f"{source}:{line_no}"
                raise _error(f"{what}: every example line must start with '- ', got {stripped!r}", where)
            example = stripped[1:].strip()
            if example:
                yield line_no, example
        return
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            line_no = child.start_mark.line + 1
            if isinstance(child, yaml.ScalarNode):
                example = str(child.value).strip()
            elif isinstance(child, yaml.MappingNode):
                text_node = next((v for k, v in child.value if _scalar(k) == "text"), None)
                if text_node is None or not isinstance(text_node, yaml.ScalarNode):
                    raise _error(f"{what}: an example mapping needs a `text:` string", f"{source}:{line_no}")
                example = str(text_node.value).strip()
            else:
                raise _error(f"{what}: examples must be strings", f"{source}:{line_no}")
            if example:
                yield line_no, example
        return
    raise _error(f"{what}: `examples` must be a block string of '- ' lines", f"{source}:{node.start_mark.line + 1}")


def parse_example(annotated: str, intent: str, source: str = "") -> Example:
    """Strip Rasa entity markup from one example, keeping the entity spans (offsets into the plain text)."""
    plain: list[str] = []
    entities: list[EntitySpan] = []
    pos = 0
    length = 0
    for m in _ANNOTATION_RE.finditer(annotated):
        before = annotated[pos : m.start()]
        plain.append(before)
        length += len(before)
        span_text = m.group("text")
        start, end = length, length + len(span_text)
        plain.append(span_text)
        length = end
        pos = m.end()
        for entity, value, role, group in _annotation_entities(m, annotated, source):
            if entity not in ENTITIES:
                hint = ""
                if "=" in entity:
                    e, _, v = entity.partition("=")
                    hint = f' (Rasa syntax for a value is [{span_text}]{{"entity": "{e}", "value": "{v}"}})'
                raise _error(
                    f"unknown entity {entity!r} in {annotated!r}{hint}; valid entities: {', '.join(ENTITIES)}",
                    source,
                    entity=entity,
                )
            entities.append(
                EntitySpan(
                    entity=entity,
                    value=value if value is not None else span_text,
                    start=start,
                    end=end,
                    text=span_text,
                    explicit_value=value is not None,
                    role=role,
                    group=group,
                )
            )
    plain.append(annotated[pos:])
    text = "".join(plain)
    if "[" in text or "]" in text:
        raise _error(
            f"malformed entity annotation in {annotated!r} (use [text](entity) or [text]{{...}})",
            source,
            example=annotated,
        )
    if not text.strip():
        raise _error("empty example", source)
    return Example(text=text, intent=intent, entities=tuple(entities), source=source)


def _annotation_entities(
    m: re.Match[str], annotated: str, source: str
) -> list[tuple[str, str | None, str | None, str | None]]:
    short = m.group("short")
    if short is not None:
        entity, sep, value = short.partition(":")
        entity = entity.strip()
        if not entity:
            raise _error(f"empty entity name in {annotated!r}", source)
        return [(entity, value.strip() if sep else None, None, None)]
    raw = m.group("dict") if m.group("dict") is not None else f"[{m.group('list')}]"
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _error(f"entity annotation {raw!r} is not valid JSON in {annotated!r}", source) from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    out: list[tuple[str, str | None, str | None, str | None]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("entity"), str):
            raise _error(f'entity annotation {raw!r} needs an "entity" string in {annotated!r}', source)
        value = item.get("value")
        role = item.get("role")
        group = item.get("group")
        out.append(
            (
                item["entity"],
                None if value is None else str(value),
                None if role is None else str(role),
                None if group is None else str(group),
            )
        )
    return out
