"""The artifact's metadata: one typed dataclass, stored as JSON inside every model file.

An exported ``model.onnx`` carries ``ModelConfig.to_dict()`` under the metadata key
``METADATA_KEY``; a ``model.pt`` checkpoint carries the same dict. Nothing else is needed
to tokenize, run and label a text.
"""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .errors import ModelError
from .tokenizer import RESERVED_IDS

__all__ = [
    "ARCHS", "BIGRAM_BUCKETS_LIMIT", "BIGRAM_HASH", "DEFAULT_DROPOUT", "FORMAT_VERSION", "INPUTS", "MAX_LEN_LIMIT",
    "METADATA_KEY", "ModelConfig", "OUTPUTS", "Quantization", "STATE_INPUTS", "STATE_OUTPUTS", "TOKENIZERS",
    "TensorSpec", "check_label",
]

# The wide term's bigram table: the pair of neighbouring token ids (a, b) reads row
# ((a mod K) * BIGRAM_HASH + b) mod K of K = wide_bigrams rows (a power of two, at most
# BIGRAM_BUCKETS_LIMIT). Every value stays below 2**24: OpenVINO computes int64 Mod/Div in
# float32, exact only there (measured: off by one above).
BIGRAM_HASH = 251
BIGRAM_BUCKETS_LIMIT = 2**16
# Bumped when a change would make an older runtime misread a model.
FORMAT_VERSION = 2
METADATA_KEY = "edgelstm"
ARCHS = ("lstm", "bilstm")  # the architecture names, here only: the CLI and training read them
# The Keras example's dropout rates: 0.2 around the LSTM network, 0.5 around the BiLSTM.
DEFAULT_DROPOUT = {"lstm": 0.2, "bilstm": 0.5}
TOKENIZERS = ("words-v1",)  # the rules edgelstm.tokenizer implements, by name
# A model may keep at most this many tokens per text: a text's ids are held in memory at once,
# so a crafted max_len of 10**12 must not turn one long line into gigabytes.
MAX_LEN_LIMIT = 100_000
# Metadata keys a model must carry; the rest (dense, dropout, metrics, quantization) have
# defaults that are right for every model written so far.
REQUIRED_KEYS = ("format_version", "arch", "vocab_size", "max_len", "embed_dim", "hidden",
                 "labels", "vocabulary", "tokenizer")


def check_label(label: object) -> str:
    """A label must be a non-empty string that fits on one line of output (no tab, no newline):
    ``edgelstm predict`` prints ``label<TAB>probability``, one line per document. Nor may it
    hold another control character (NUL, ESC, DEL, ...): printed raw, ESC sequences would drive
    the reader's terminal."""
    if not isinstance(label, str):
        raise ValueError(f"label {label!r} is not a string")
    if not label.strip():
        raise ValueError("a label is empty")
    if any(c in label for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        raise ValueError(f"label {label!r} contains a tab or a line break")
    control = next((c for c in label if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise ValueError(f"label {label!r} contains the control character U+{ord(control):04X}")
    return label


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    axes: tuple[str, ...]  # symbolic names; dynamic except "hidden", which is config.hidden


# The model's signature, declared once: export builds the graph from it, the runtime feeds it.
INPUTS = (
    TensorSpec("input_ids", "int64", ("batch", "sequence")),
    TensorSpec("lengths", "int64", ("batch",)),
)
OUTPUTS = (
    TensorSpec("probabilities", "float32", ("batch", "labels")),
    TensorSpec("logits", "float32", ("batch", "outputs")),
)
# lstm models only: the recurrent state, so a text can be fed in pieces (streaming). Zeros mean
# "start of text"; final_* is the state after the last step of the sequence axis (exact for
# unpadded rows).
STATE_INPUTS = (
    TensorSpec("initial_h", "float32", ("batch", "hidden")),
    TensorSpec("initial_c", "float32", ("batch", "hidden")),
)
STATE_OUTPUTS = (
    TensorSpec("final_h", "float32", ("batch", "hidden")),
    TensorSpec("final_c", "float32", ("batch", "hidden")),
)


@dataclass
class Quantization:
    """How an int8 model was made (its recipe) and what was measured when it was checked.

    Stored as a JSON object; keys that are None are left out, so the bytes of a file depend
    only on what was recorded. Keys this version does not know are kept in ``extra``.
    """

    recipe: dict[str, Any] | None = None  # the recipe's fields (edgelstm.export.recipes.Recipe)
    batch_invariant: bool = False  # False: activations quantized per batch (answers depend on it)
    accuracy_budget: float | None = None  # accuracy (a fraction) int8 could lose against fp32
    validation_texts: int | None = None  # how many held-out texts the check read
    fp32_accuracy: float | None = None  # on those texts
    accuracy: float | None = None  # this int8 model's, on the same texts
    agreement: float | None = None  # share of texts where int8's label is fp32's
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def recipe_name(self) -> str:
        return str((self.recipe or {}).get("name", "?"))

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**{k: v for k, v in data.items() if v is not None}, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Quantization:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known})


@dataclass
class ModelConfig:
    """Architecture, vocabulary and labels of one model, plus what was measured on it."""

    arch: str = "lstm"  # "lstm" (Keras example 4.1) or "bilstm" (4.2)
    vocab_size: int = 3800  # embedding rows: padding + out-of-vocabulary + words
    max_len: int = 380  # longer texts keep their last max_len tokens
    embed_dim: int = 32
    hidden: int = 32  # LSTM units per direction
    dense: int = 256  # width of the lstm head's hidden Dense layer (0: none)
    dropout: float = DEFAULT_DROPOUT["lstm"]  # the CLI picks DEFAULT_DROPOUT[arch]
    # A "wide" bag-of-words term added to the logits (fastText / wide-and-deep): one weight per
    # word and output, averaged over the text's real tokens. The graph computes it; the runtime
    # only reads this to describe the model.
    wide: bool = False
    # > 0: the wide term also reads each pair of neighbouring tokens, hashed into this many rows
    # after the words' (BIGRAM_HASH)
    wide_bigrams: int = 0
    labels: list[str] = field(default_factory=lambda: ["neg", "pos"])
    vocabulary: list[str] = field(default_factory=list)  # words of ids 2, 3, ...
    tokenizer: str = "words-v1"  # the rule in edgelstm.tokenizer, by name
    metrics: dict[str, Any] = field(default_factory=dict)
    quantization: Quantization | None = None  # int8 models: the recipe and its measurements
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}")
        if len(self.labels) < 2:
            raise ValueError("a classifier needs at least two labels")
        _check_wide(self.wide, self.wide_bigrams, self.vocab_size)
        if isinstance(self.quantization, dict):  # as stored (from_dict, or written by hand)
            self.quantization = Quantization.from_dict(self.quantization)

    @property
    def has_state(self) -> bool:
        """The graph takes and returns the recurrent state (``STATE_INPUTS``/``STATE_OUTPUTS``):
        lstm models of format 2 on; format 1 models never did, a BiLSTM cannot, nor a model with
        a ``wide`` term (its average over the whole text is not carried in the state)."""
        return self.arch == "lstm" and self.format_version >= 2 and not self.wide

    @property
    def batch_invariant(self) -> bool:
        """A text's answer never depends on its batch neighbours: fp32, or a weight-only int8 recipe."""
        return self.quantization is None or self.quantization.batch_invariant is True

    @property
    def num_outputs(self) -> int:
        """Two labels share one sigmoid output, as in the Keras example; more get a softmax."""
        return 1 if len(self.labels) == 2 else len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["quantization"] = None if self.quantization is None else self.quantization.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        version = data.get("format_version")
        if not _is_int(version):
            raise ModelError("metadata has no format_version")
        if version > FORMAT_VERSION:
            raise ModelError(
                f"model format version {version} is newer than this runtime's "
                f"({FORMAT_VERSION}); upgrade edgelstm"
            )
        try:
            _validate(data)
        except ValueError as exc:
            raise ModelError(f"invalid model metadata: {exc}") from exc
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise ModelError(f"invalid model metadata: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model metadata is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError("model metadata is not a JSON object")
        return cls.from_dict(data)


def _check_wide(wide: object, bigrams: object, vocab_size: int) -> None:
    if not isinstance(wide, bool):
        raise ValueError(f"wide must be true or false, not {wide!r}")
    if (not _is_int(bigrams) or bigrams < 0 or bigrams > BIGRAM_BUCKETS_LIMIT or bigrams & (bigrams - 1)
            or (bigrams and not wide)):
        raise ValueError(f"wide_bigrams must be 0 or a power of two up to {BIGRAM_BUCKETS_LIMIT}, with wide, "
                         f"not {bigrams!r}")
    if bigrams and vocab_size > 2**24 - BIGRAM_HASH * BIGRAM_BUCKETS_LIMIT:  # hashed values below 2**24
        raise ValueError(f"vocab_size {vocab_size} is too large for wide_bigrams")


def _validate(data: dict[str, Any]) -> None:
    """Refuse metadata that would give garbage answers or crash later (a crafted or edited
    file): every key a model needs, of its type and in range. ValueError names the key."""
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if not _is_int(data["format_version"]) or data["format_version"] < 1:
        raise ValueError(f"format_version {data['format_version']!r} is not a version")
    if data["arch"] not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, not {data['arch']!r}")
    if data["tokenizer"] not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {data['tokenizer']!r} (this runtime knows {', '.join(TOKENIZERS)})")
    for key in ("vocab_size", "max_len", "embed_dim", "hidden"):
        if not _is_int(data[key]) or data[key] < 1:
            raise ValueError(f"{key} must be a positive integer, not {data[key]!r}")
    if data["max_len"] > MAX_LEN_LIMIT:
        raise ValueError(f"max_len {data['max_len']} is above the limit of {MAX_LEN_LIMIT}")
    dense = data.get("dense", 0)
    if not _is_int(dense) or dense < 0:
        raise ValueError(f"dense must be a non-negative integer, not {dense!r}")
    _check_wide(data.get("wide", False), data.get("wide_bigrams", 0), data["vocab_size"])
    dropout = data.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), not {dropout!r}")

    labels = data["labels"]
    if not isinstance(labels, list) or len(labels) < 2:
        raise ValueError("labels must be a list of at least two labels")
    for label in labels:
        check_label(label)
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate labels in {labels}")

    vocabulary = data["vocabulary"]
    if not isinstance(vocabulary, list) or not all(isinstance(w, str) for w in vocabulary):
        raise ValueError("vocabulary must be a list of strings")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("duplicate words in the vocabulary")
    if len(vocabulary) + RESERVED_IDS > data["vocab_size"]:  # ids 0 and 1 are padding and unknown
        raise ValueError(f"{len(vocabulary)} vocabulary words do not fit vocab_size {data['vocab_size']}")

    if not isinstance(data.get("metrics", {}), dict):
        raise ValueError("metrics must be an object")
    quantization = data.get("quantization")
    if quantization is not None:
        if not isinstance(quantization, dict):
            raise ValueError("quantization must be an object or null")
        if not isinstance(quantization.get("batch_invariant", False), bool):
            raise ValueError("quantization.batch_invariant must be true or false")
