"""The ``edgelstm`` command: a thin layer over the library.

Results go to stdout; progress, warnings and errors to stderr. Heavy imports (torch, onnx,
onnxruntime) happen inside the commands that need them, so ``predict`` starts fast.
"""

# No ``from __future__ import annotations`` here: typer reads each command's annotations at every
# start, and strings it would compile and evaluate twice (inspect.signature, get_type_hints).

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer
import typer.core
import typer.main

from edgelstm.errors import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_MISSING_EXTRA, EdgelstmError

__all__ = ["app", "main"]

class _PlainArgument(typer.core.TyperArgument):
    """Arguments in help as POSIX usage writes them (``FILE...``, ``[MODEL]``), without typer's
    ``{file}`` braces and Python type names such as ``<list[Path]>``."""

    def _usage_display_name(self) -> str:
        if self.metavar is not None:  # written for the usage line already
            return self.metavar
        name = self.name.upper() + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"

    def _rich_display_name(self) -> str:
        return self.metavar or self.name.upper() + ("..." if self.nargs != 1 else "")

    def display_type(self, ctx: object) -> str:  # any context: the type shows nowhere
        return ""


# typer has no per-argument class option; its converter looks the class up here.
typer.main.TyperArgument = _PlainArgument  # type: ignore[attr-defined]

app = typer.Typer(
    help="Train LSTM/BiLSTM text classifiers, export them to ONNX, and predict on the CPU.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help and usage errors: fewer lines, faster start
    add_completion=False,
)
log = logging.getLogger("edgelstm")
_state = {"debug": False}

TRAIN_EXTRA_HINT = "this command needs the train extra: pip install 'edgelstm[train]'"


P = ParamSpec("P")
R = TypeVar("R")


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"edgelstm: error: {message}", err=True)
    raise typer.Exit(code)


def _friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Errors become one line on stderr and a distinct exit code (a traceback with --debug)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise  # usage errors: click prints them with the command's usage line
        except EdgelstmError as exc:
            if _state["debug"]:
                raise
            _fail(str(exc), exc.exit_code)
        except ModuleNotFoundError as exc:
            if _state["debug"] or exc.name not in ("torch", "onnx"):
                raise
            _fail(f"{exc.name} is not installed; {TRAIN_EXTRA_HINT}", EXIT_MISSING_EXTRA)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError as exc:  # e.g. `edgelstm predict big.txt | head`: the reader has gone
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from exc
        except Exception as exc:  # the last resort: still one line, never a traceback
            if _state["debug"]:
                raise
            _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)", EXIT_ERROR)

    return wrapper


def _print_version(value: bool) -> None:
    if value:
        from edgelstm import __version__

        typer.echo(f"edgelstm {__version__}")
        raise typer.Exit()


@app.callback()
def _setup(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More diagnostics on stderr.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if not verbose else "%(name)s: %(message)s"))
    root = logging.getLogger("edgelstm")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


from . import commands, score  # noqa: E402,F401  (registers the commands on ``app``)


def main() -> None:
    app(prog_name="edgelstm")
