"""The browser page's files (``--web DIR``): the folder, and the shipped model its links point at.

``web/model/model.onnx`` and ``web/model/tokenizer.json`` are symlinks to ``edgelstm/shipped/``.
Starlette's StaticFiles either resolves links and refuses every one that leaves the folder (the
page then cannot load its model) or follows them all. Here links are followed, and a file is
served only if its real path is inside an allowed root: the folder itself or the shipped models'
folder. A URL cannot climb out (``..`` is resolved before the check) and a link to anywhere else
is a 404, as a file that is not there.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.staticfiles import StaticFiles

from ..classifier import SHIPPED_DIR

__all__ = ["PageFiles"]


class PageFiles(StaticFiles):
    def __init__(self, directory: Path, extra_roots: tuple[Path, ...] = (SHIPPED_DIR,)) -> None:
        super().__init__(directory=directory, html=True, follow_symlink=True)
        self.roots = tuple(root.resolve() for root in (directory, *extra_roots))

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # follow_symlink=True: the lexical path stays under the folder (starlette checks that) ...
        full_path, stat = super().lookup_path(path)
        # ... and its target must be under an allowed root.
        if stat is not None and not any(Path(full_path).resolve().is_relative_to(r) for r in self.roots):
            return "", None
        return full_path, stat
