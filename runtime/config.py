"""The artifact's metadata: one typed dataclass, stored as JSON inside every model file.

An exported ``model.onnx`` carries ``ModelConfig.to_dict()`` under the metadata key
``METADATA_KEY``; a ``model.pt`` checkpoint carries the same dict. Nothing else is needed
to tokenize, run and label a text.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ModelError

__all__ = [
    "ModelConfig", "TensorSpec", "INPUTS", "OUTPUTS", "STATE_INPUTS", "STATE_OUTPUTS", "FORMAT_VERSION",
    "METADATA_KEY",
]

# Bumped when a change would make an older runtime misread a model.
FORMAT_VERSION = 1
METADATA_KEY = "edgelstm"
ARCHS = ("lstm", "bilstm")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    axes: tuple[str, ...]  # symbolic names; every axis is dynamic


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
class ModelConfig:
    """Architecture, vocabulary and labels of one model, plus what was measured on it."""

    arch: str = "lstm"  # "lstm" (Keras example 4.1) or "bilstm" (4.2)
    vocab_size: int = 3800  # embedding rows: padding + out-of-vocabulary + words
    max_len: int = 380  # longer texts keep their last max_len tokens
    embed_dim: int = 32
    hidden: int = 32  # LSTM units per direction
    dense: int = 256  # width of the lstm head's hidden Dense layer (0: none)
    dropout: float = 0.2
    labels: list[str] = field(default_factory=lambda: ["neg", "pos"])
    vocabulary: list[str] = field(default_factory=list)  # words of ids 2, 3, ...
    tokenizer: str = "words-v1"  # the rule in edgelstm.tokenizer, by name
    metrics: dict[str, Any] = field(default_factory=dict)
    quantization: dict[str, Any] | None = None  # the int8 recipe and its measurements
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}")
        if len(self.labels) < 2:
            raise ValueError("a classifier needs at least two labels")

    @property
    def num_outputs(self) -> int:
        """Two labels share one sigmoid output, as in the Keras example; more get a softmax."""
        return 1 if len(self.labels) == 2 else len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        version = data.get("format_version")
        if not isinstance(version, int):
            raise ModelError("metadata has no format_version")
        if version > FORMAT_VERSION:
            raise ModelError(
                f"model format version {version} is newer than this runtime's "
                f"({FORMAT_VERSION}); upgrade edgelstm"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise ModelError(f"invalid model metadata: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model metadata is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ModelError("model metadata is not a JSON object")
        return cls.from_dict(data)
