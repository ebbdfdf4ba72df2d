"""The JSON the server reads and writes: request models (pydantic) and the one error body.

A request body is parsed with ``json`` (its messages say where the JSON breaks), checked for
depth, then validated by a pydantic model in strict mode (no coercion: ``3`` is not ``"3"``).
``explain`` turns pydantic's first error into the server's documented one-line reason and status,
so clients see the same ``{"error": ...}`` bodies whatever does the checking.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "MAX_JSON_DEPTH",
    "BadRequest",
    "InferRequest",
    "InputTensor",
    "PredictRequest",
    "RequestedOutput",
    "error_body",
    "explain",
    "parse_json",
    "validate",
]

# Nesting levels of a request body. /predict needs 2, an OIP tensor 3 plus its rank; deeper
# bodies are refused before anything recurses into them (json.loads itself stops near 1,000 with
# a RecursionError, which must be a 400, not a 500).
MAX_JSON_DEPTH = 32
MAX_ELEMENTS = 2**64  # a shape holding more is reported as "more than" this
TENSOR_HINT = '{"name": "text", "datatype": "BYTES", "shape": [N], "data": [...]}'


class BadRequest(Exception):
    """A client error: its status and a one-line reason, sent as ``{"error": reason}``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def error_body(reason: str) -> bytes:
    """``{"error": reason}`` as sent: the app's errors and those the HTTP layer writes itself."""
    return json.dumps({"error": reason}, ensure_ascii=False, separators=(",", ":")).encode()


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON types as sent: no "3" for 3, no true for 1


class PredictRequest(_Strict):
    texts: list[str]

    def checked_texts(self, max_texts: int) -> list[str]:
        _check_count(self.texts, max_texts)
        return self.texts


class InputTensor(_Strict):
    name: Any = None  # the server has one input: its name is not checked
    datatype: Literal["BYTES"]
    shape: list[Annotated[int, Field(ge=0)]]
    data: Any  # flat or nested by shape; checked against shape by checked_texts


class RequestedOutput(_Strict):
    name: str


class InferRequest(_Strict):
    id: Any = None  # echoed
    inputs: Annotated[list[InputTensor], Field(min_length=1, max_length=1)]
    outputs: list[RequestedOutput] | None = None

    def checked_texts(self, max_texts: int) -> list[str]:
        """The texts: the tensor's data, flattened, exactly as many as its shape holds."""
        tensor = self.inputs[0]
        data = _flatten(tensor.data)
        count = _elements(tensor.shape)
        if count != len(data):
            holds = count if count is not None else f"more than {MAX_ELEMENTS}"
            raise BadRequest(400, f"shape {tensor.shape} holds {holds} elements but data has {len(data)}")
        _check_count(data, max_texts)
        for i, text in enumerate(data):
            if not isinstance(text, str):
                raise BadRequest(422, f"input data[{i}] must be a string, not {_json_type(text)}")
        return data


def parse_json(body: bytes) -> Any:
    """The parsed body; 400 if it is not UTF-8 JSON or nests deeper than MAX_JSON_DEPTH."""
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise BadRequest(400, "request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            400, f"request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise BadRequest(400, f"request body is nested more than {MAX_JSON_DEPTH} levels deep") from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]  # iterative: the depth is what is being checked
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_JSON_DEPTH:
                    raise BadRequest(400, f"request body is nested more than {MAX_JSON_DEPTH} levels deep")
                stack.append((child, depth + 1))


Request = TypeVar("Request", PredictRequest, InferRequest)


def validate(model: type[Request], body: Any, max_texts: int) -> Request:
    """``body`` as ``model``; a BadRequest with the documented reason if it is not one."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise explain(model, exc, body, max_texts) from None


def explain(model: type[BaseModel], exc: ValidationError, body: Any, max_texts: int) -> BadRequest:
    """The documented status and reason for ``body``'s most basic defect (pydantic lists them all)."""
    if model is PredictRequest:
        return _explain_predict(min(exc.errors(), key=lambda e: len(e["loc"])), body, max_texts)
    return _explain_infer(min(exc.errors(), key=lambda e: _infer_order(e["loc"])))


def _explain_predict(error: Any, body: Any, max_texts: int) -> BadRequest:
    loc = error["loc"]
    if not loc:
        return BadRequest(400, 'request body must be a JSON object {"texts": [...]}')
    if error["type"] == "missing":
        return BadRequest(422, 'request body has no "texts" (a list of strings)')
    texts = body["texts"]
    if len(loc) == 1:
        return BadRequest(422, f'"texts" must be a list of strings, not {_json_type(texts)}')
    if len(texts) > max_texts:  # too many texts is reported before a wrong one
        return _too_many(len(texts), max_texts)
    return BadRequest(422, f'"texts"[{loc[1]}] must be a string, not {_json_type(error["input"])}')


def _infer_order(loc: tuple[Any, ...]) -> int:
    """Which defect of an infer request is reported first (the order the checks were written in)."""
    if not loc:
        return 0
    if loc[0] == "inputs":
        fields = ("datatype", "shape", "data")
        return 1 if len(loc) <= 2 else 2 + fields.index(loc[2]) if loc[2] in fields else 5
    return 6  # "outputs"


def _explain_infer(error: Any) -> BadRequest:
    loc = error["loc"]
    field = loc[2] if len(loc) > 2 else None
    if not loc:
        return BadRequest(400, 'request body must be a JSON object {"inputs": [...]}')
    if loc[0] == "outputs":
        return BadRequest(400, '"outputs" must be a list of {"name": ...} objects')
    if field == "datatype":
        sent = None if error["type"] == "missing" else error["input"]
        return BadRequest(400, f'input datatype must be "BYTES", not {json.dumps(sent)}')
    if field == "shape":
        return BadRequest(400, '"shape" must be a list of non-negative integers')
    if field == "data":
        return BadRequest(400, 'the input tensor has no "data"')
    return BadRequest(400, f'"inputs" must be a list of one tensor: {TENSOR_HINT}')


def _elements(shape: list[int]) -> int | None:
    """The product of ``shape`` in Python ints (numpy's int64 wraps [2**32, 2**32] to 0), or None
    past MAX_ELEMENTS: a 1 MiB body may hold a shape whose product has a million digits."""
    if 0 in shape:
        return 0
    count = 1
    for dimension in shape:
        count *= dimension
        if count > MAX_ELEMENTS:
            return None
    return count


def _check_count(texts: list[Any], max_texts: int) -> None:
    if len(texts) > max_texts:
        raise _too_many(len(texts), max_texts)


def _too_many(count: int, max_texts: int) -> BadRequest:
    return BadRequest(413, f"{count} texts in one request is over the limit of {max_texts}")


def _flatten(data: Any) -> list[Any]:
    """OIP tensors may send ``data`` flat or nested by shape: one flat list either way."""
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:  # iterative, so nesting costs no stack
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _json_type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
