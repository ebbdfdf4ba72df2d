"""Command-line values converted without pydantic where the conversion is plain.

typer (0.2x) converts every parameter's value, a default or ``None`` included, through a pydantic
``TypeAdapter`` that it builds when the parameter is first processed: importing pydantic and
building the adapters cost ``edgelstm predict`` 0.15-0.2 s of its start-up, more than loading the
model. The values these commands take (str, int, float, bool, Path, an Enum's names, lists of
them) are converted here as those adapters convert them; anything else, and every value this
cannot read plainly (a wrong one among them), goes to typer's own conversion, so errors and
unusual spellings (``+5``, ``1_000``, ``1e3``) are typer's, word for word.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import typer.core

__all__ = ["NOT_PLAIN", "plain_value", "use_plain_conversion"]

# What typer's adapters read as these numbers (pydantic lax mode): the digits, as Python does.
_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?")
NOT_PLAIN = object()  # plain_value's answer for a value typer must convert


def _number(kind: type, value: Any, info: Any) -> Any:
    if isinstance(value, str) and (_INT if kind is int else _FLOAT).fullmatch(value):
        value = kind(value)
    elif type(value) is int or (kind is float and type(value) is float):
        value = kind(value)
    else:
        return NOT_PLAIN
    if info.clamp or (info.min is not None and value < info.min) or (info.max is not None and value > info.max):
        return NOT_PLAIN  # clamped, or out of range: typer's message
    return value


def _leaf(annotation: Any, value: Any, param: Any, ctx: Any) -> Any:
    from typer._param_types import coerce_cli_choice, coerce_cli_path  # here: only typers that have it call this

    info = param.type_descriptor.parameter_info
    if info.parser is not None:
        return NOT_PLAIN
    if annotation is str:
        return value if type(value) is str else NOT_PLAIN
    if annotation is bool:
        return value if type(value) is bool else NOT_PLAIN
    if annotation in (int, float):
        return _number(annotation, value, info)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return coerce_cli_choice(value, choices=tuple(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:  # not one of the names
            return NOT_PLAIN
    if annotation is Path and info.path_type is None and isinstance(value, (str, Path)) and value != "":
        try:  # a Path given: typer's own checks (exists, readable, ...) without its adapter
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        except typer.BadParameter:
            return NOT_PLAIN
    return NOT_PLAIN


def plain_value(value: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted for ``param`` as typer's adapter would, or ``NOT_PLAIN``."""
    annotation = param.type_descriptor.annotation
    multi = param.multiple or param.nargs == -1
    if value is None:  # typer's RuntimeParam.coerce: no value, before any adapter
        return () if multi else None
    if get_origin(annotation) is list:
        if not multi or not isinstance(value, (list, tuple)):
            return NOT_PLAIN
        (item,) = get_args(annotation)
        items = [_leaf(item, v, param, ctx) for v in value]
        return NOT_PLAIN if any(v is NOT_PLAIN for v in items) else items
    return NOT_PLAIN if multi else _leaf(annotation, value, param, ctx)


class _Conversion:
    """What typer asks of a parameter's conversion (``RuntimeParam.coerce``): the plain one, and
    typer's (its pydantic adapter) built only for a value that is not plain."""

    def __init__(self, param: Any) -> None:
        self.param = param
        self.typers: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        plain = plain_value(value, param, ctx)
        if plain is not NOT_PLAIN:
            return plain
        if self.typers is None:
            from typer._coercion import build_runtime_param

            self.typers = build_runtime_param(self.param.type_descriptor)
        return self.typers.coerce(value, param=param, ctx=ctx)


def use_plain_conversion() -> None:
    """Every typer parameter of this process (options, arguments, ``--help``) converts its values
    with ``plain_value`` first. A typer without pydantic conversion (before 0.2x: click's types)
    has no ``get_runtime_param`` and is left as it is."""
    parameter = getattr(typer.core, "_TyperParameter", None)
    if parameter is None or not hasattr(parameter, "get_runtime_param"):
        return

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            self._runtime_param = _Conversion(self)
        return self._runtime_param

    parameter.get_runtime_param = get_runtime_param
