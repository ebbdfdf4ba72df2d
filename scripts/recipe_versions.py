"""The library versions that the shipped model's recipe is pinned to (scripts/recipe-constraints.txt).

``python scripts/recipe_versions.py --check`` exits 1 naming each installed version that differs
from its pin (scripts/make_default_model.sh runs it before it starts); ``--json`` prints the
installed versions of the pinned packages and Python (scripts/ship_model.py records them).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["CONSTRAINTS", "installed", "mismatches", "pinned", "main"]

CONSTRAINTS = Path(__file__).resolve().parent / "recipe-constraints.txt"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$")
_PYTHON = re.compile(r"^# python: (\d+\.\d+)$")


def pinned(constraints: Path = CONSTRAINTS) -> dict[str, str]:
    """{package: version} of the constraints file, and "python": its minor version."""
    pins = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line.strip()) or _PYTHON.match(line.strip()):
            pins[match.group(1) if match.re is _PIN else "python"] = match.group(match.re.groups)
    return pins


def installed(names: list[str]) -> dict[str, str | None]:
    """The installed version of each package (None: not installed); "python": the full version."""
    versions: dict[str, str | None] = {}
    for name in names:
        if name == "python":
            versions[name] = platform.python_version()
            continue
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _same(pin: str, found: str | None, name: str) -> bool:
    if found is None:
        return False
    if name == "python":  # the minor version decides the Unicode tables
        return found.split(".")[:2] == pin.split(".")
    return found.split("+")[0] == pin  # torch's local label (+cpu) is the build, not the version


def mismatches(constraints: Path = CONSTRAINTS) -> list[str]:
    """One line per pinned package whose installed version differs."""
    pins = pinned(constraints)
    found = installed(list(pins))
    return [f"{name}: {found[name] or 'not installed'}, the recipe's is {pin}"
            for name, pin in pins.items() if not _same(pin, found[name], name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--constraints", type=Path, default=CONSTRAINTS)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true", help="exit 1 if an installed version differs from its pin")
    group.add_argument("--json", action="store_true", help="print the installed versions of the pinned packages")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(installed(list(pinned(args.constraints))), indent=1))
        return 0
    differing = mismatches(args.constraints)
    for line in differing:
        print(f"recipe_versions: {line}", file=sys.stderr)
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
