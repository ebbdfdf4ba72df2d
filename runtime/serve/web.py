"""The browser page's files (``--web DIR``): the folder, and what the links in its ``model/`` point at.

``web/model/model.onnx`` and ``web/model/tokenizer.json`` are symlinks to the shipped model and
its tokenizer. Starlette's StaticFiles either resolves links and refuses every one that leaves the
folder (the page then cannot load its model) or follows every link. Here links are followed, and
a file is served only if its real path is inside the folder or is (or is under) the target of a
link in ``DIR/model/``, read when the server starts. A URL cannot climb out (``..`` is resolved
before the check) and any other link that leaves the folder is a 404, as a missing file is.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.staticfiles import StaticFiles

__all__ = ["LINKED_FOLDER", "PageFiles"]

LINKED_FOLDER = "model"  # the page's default model: ./model/model.onnx and tokenizer.json beside it


class PageFiles(StaticFiles):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, follow_symlink=True)
        linked = directory / LINKED_FOLDER
        links = [linked] if linked.is_symlink() else [p for p in linked.iterdir() if p.is_symlink()] \
            if linked.is_dir() else []
        self.roots = (directory.resolve(), *(link.resolve() for link in links))

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # follow_symlink=True: starlette keeps the lexical path under the folder ...
        full_path, stat = super().lookup_path(path)
        # ... and its real path must be under an allowed root.
        if stat is not None and not any(Path(full_path).resolve().is_relative_to(r) for r in self.roots):
            return "", None
        return full_path, stat
