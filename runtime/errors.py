"""Typed errors and the exit codes of the ``edgelstm`` command: the one home of both.

Each error class carries its exit code; the CLI reads it from the exception (or, for the
codes no edgelstm exception stands for, from the constants here). The README's table of exit
codes is tested against ``EXIT_CODES``. The export errors live here too (re-exported by
``edgelstm.export``): a torch-free module can raise or catch them without importing torch.
"""

from __future__ import annotations

__all__ = [
    "EXIT_BROKEN_PIPE", "EXIT_CLUSTER", "EXIT_CODES", "EXIT_DATA", "EXIT_ERROR", "EXIT_EXPORT_VALIDATION", "EXIT_INPUT",
    "EXIT_INTERRUPTED", "EXIT_MISSING_EXTRA", "EXIT_MODEL", "EXIT_OK", "EXIT_QUANTIZATION", "EXIT_USAGE",
    "ClusterError", "DataError", "EdgelstmError", "ExportValidationError", "InputError", "MissingExtraError",
    "ModelError", "QuantizationError", "TokenizerJsonError",
]

EXIT_OK = 0
EXIT_ERROR = 1  # unexpected: a bug or an unforeseen environment (rerun with --debug)
EXIT_USAGE = 2  # click's own code for an unknown option or a bad value
EXIT_MODEL = 3
EXIT_INPUT = 4
EXIT_DATA = 5
EXIT_EXPORT_VALIDATION = 6  # ExportValidationError
EXIT_QUANTIZATION = 7  # QuantizationError
EXIT_MISSING_EXTRA = 8  # an extra's package is needed but not installed (torch, onnx, gensim, ...)
EXIT_CLUSTER = 9  # edgelstm.ray: the Ray cluster cannot run the job (too few CPUs, actors never started)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`... | head`)

# every exit code above, by name, in definition (ascending) order
EXIT_CODES: dict[str, int] = {name: code for name, code in globals().items() if name.startswith("EXIT_")}


class EdgelstmError(Exception):
    """Base class of every error edgelstm raises on purpose."""

    exit_code = EXIT_ERROR


class ModelError(EdgelstmError):
    """A model file is missing, unreadable, corrupt, not an edgelstm model, or too new."""

    exit_code = EXIT_MODEL


class InputError(EdgelstmError):
    """A document or input file cannot be read."""

    exit_code = EXIT_INPUT


class DataError(EdgelstmError):
    """Training or evaluation data is malformed (the message names the file and line)."""

    exit_code = EXIT_DATA


class MissingExtraError(EdgelstmError):
    """A feature needs a package of an extra that is not installed (the message names the extra)."""

    exit_code = EXIT_MISSING_EXTRA


class ExportValidationError(EdgelstmError):
    """An exported model's outputs differ from PyTorch's by more than the tolerance."""

    exit_code = EXIT_EXPORT_VALIDATION


class TokenizerJsonError(ExportValidationError):
    """tokenizer.json does not give the ids words-v1 gives (export fails rather than ship it)."""


class QuantizationError(EdgelstmError):
    """An int8 model cannot be made or would lose more accuracy than its budget allows."""

    exit_code = EXIT_QUANTIZATION


class ClusterError(EdgelstmError):
    """The Ray cluster cannot run a scoring job: too few CPUs for the actors and the reads, or
    the actors did not start in time (``edgelstm.ray``)."""

    exit_code = EXIT_CLUSTER
