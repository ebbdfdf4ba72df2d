"""Typed errors. The CLI turns each into a one-line message and its own exit code."""

from __future__ import annotations

__all__ = ["EdgelstmError", "ModelError", "InputError", "DataError"]


class EdgelstmError(Exception):
    """Base class of every error edgelstm raises on purpose."""

    exit_code = 1


class ModelError(EdgelstmError):
    """A model file is missing, unreadable, corrupt, not an edgelstm model, or too new."""

    exit_code = 3


class InputError(EdgelstmError):
    """A document or input file cannot be read."""

    exit_code = 4


class DataError(EdgelstmError):
    """Training or evaluation data is malformed (the message names the file and line)."""

    exit_code = 5
