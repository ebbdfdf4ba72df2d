"""words-v1 as a Hugging Face ``tokenizer.json``, so other languages tokenize exactly as we do.

Translate-time code: the runtime never reads this file; it is written beside ``model.onnx`` for
tokenizers.js, the Rust/Python ``tokenizers`` library and anything else that reads the format.

The pipeline (one ``tokenizers`` component per words-v1 step, see ``edgelstm.tokenizer``):

- normalizer: (1) characters Python's Unicode database does not know become U+FFFD, (2) NFKC,
  (3) a capital sigma in Python's Final_Sigma context becomes ``ς``, (4) Lowercase, (5) ``’``
  becomes ``'``, (6) ``<br ... />`` becomes a space;
- pre-tokenizer: the words are the matches of the word pattern (Split, inverted, rest removed);
- model: WordLevel, ``<pad>`` = 0, ``<unk>`` = 1, then the vocabulary; truncation keeps the last
  ``max_len`` ids.

Why each odd step is there (each one a measured difference):
- (1) and the explicit character classes: Python 3.11's ``re`` and ``unicodedata`` are Unicode
  14, Oniguruma and JavaScript know newer letters (and NFKC mappings for newer characters).
  Unknown characters separate words in Python, as U+FFFD does everywhere.
- (3) ``tokenizers``' Lowercase maps each character alone, so a word-final ``Σ`` became ``σ``
  where ``str.lower()`` gives ``ς``. (JavaScript's ``toLowerCase`` already gives ``ς``.) The
  lookbehind allows at most ``_SIGMA_IGNORABLE_RUN`` case-ignorable characters between the
  cased letter and the sigma (Oniguruma's lookbehind must have a bounded set of lengths).
- (6) Python's ``\\s`` also matches U+001C..U+001F and U+0085, JavaScript's matches U+FEFF
  and not U+0085: the class lists Python's whitespace explicitly.
- What the format cannot say, callers do: a text without words is ``[1]``, and tokenizers.js
  ignores ``truncation`` (web/edgelstm.js keeps the last ``max_len`` ids itself).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgelstm.config import ModelConfig
from edgelstm.errors import TokenizerJsonError
from edgelstm.tokenizer import OOV_ID, PAD_ID, RESERVED_IDS, Tokenizer

__all__ = [
    "EDGE_CASES", "PAD_TOKEN", "UNK_TOKEN", "TokenizerJsonError", "check_tokenizer_json", "encode_with",
    "export_tokenizer_json", "is_tokenizer_json", "main", "tokenizer_json", "write_tokenizer_json",
]

log = logging.getLogger(__name__)

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
_SIGMA_IGNORABLE_RUN = 3
# Texts beyond the judged ones that must tokenize identically (each a past or likely difference).
EDGE_CASES = (
    "",
    "   ",
    "!!! 😀",
    "The movie was GREAT!",
    "Great film.<br /><br />Bad acting",
    "<BR/>x<br>y<Br  / >z<br\x1c/>w<br\x1f>v<br\x85/>u<br\ufeff/>t",
    "don’t stop—it's 10/10, l'''amour, ''quoted''",
    "ﬁlm Ｇｒｅａｔ ① ½ Ⅻ x²",
    "Caf\u00e9 cafe\u0301 İstanbul ǅ ß ẞ",
    "ΟΔΟΣ ΟΔΟΣ. ΑΣ'Σ Σ ΣΑ ἈΣ",
    "這部電影 😀 great, ５ stars",
    "words_with_underscores and-hyphens",
    "\U0001ccd6\U0001ccd7 new letters \u0897\u1c89 since Unicode 14",
    "x\u200bz\u00ady\u2060w",
)


def _ranges(codepoints: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for cp in codepoints:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


def _class(ranges: Sequence[tuple[int, int]]) -> str:
    """A regex character class of literal characters (no escapes: Oniguruma and JS differ)."""
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


@lru_cache(maxsize=1)
def _python_classes() -> tuple[str, str, str]:
    """Python's own word characters, whitespace and unknown characters, as explicit classes."""
    word_char = re.compile(r"[^\W_]")
    space = re.compile(r"\s")
    alnum, spaces, unknown = [], [], []
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if word_char.match(c):
            alnum.append(cp)
        elif space.match(c):
            spaces.append(cp)
        elif unicodedata.category(c) == "Cn" and not 0xD800 <= cp <= 0xDFFF:
            unknown.append(cp)
    return _class(_ranges(alnum)), _class(_ranges(spaces)), _class(_ranges(unknown))


def tokenizer_json(vocabulary: Sequence[str], max_len: int) -> dict[str, Any]:
    """The tokenizer.json document for a words-v1 vocabulary (ids as ``edgelstm.tokenizer``)."""
    word, space, unknown = _python_classes()
    # Final_Sigma: \p{Cased} \p{Case_Ignorable}* Σ, not followed by \p{Case_Ignorable}* \p{Cased}.
    after_cased = "|".join(
        r"\p{Cased}" + r"\p{Case_Ignorable}" * n for n in range(_SIGMA_IGNORABLE_RUN + 1)
    )
    final_sigma = rf"(?<={after_cased})Σ(?!\p{{Case_Ignorable}}*\p{{Cased}})"
    vocab = {PAD_TOKEN: PAD_ID, UNK_TOKEN: OOV_ID}
    for i, w in enumerate(vocabulary):
        vocab.setdefault(w, i + RESERVED_IDS)
    return {
        "version": "1.0",
        "truncation": {"direction": "Left", "max_length": max_len, "strategy": "LongestFirst", "stride": 0},
        "padding": None,
        "added_tokens": [],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Replace", "pattern": {"Regex": unknown}, "content": "\ufffd"},
                {"type": "NFKC"},
                {"type": "Replace", "pattern": {"Regex": final_sigma}, "content": "ς"},
                {"type": "Lowercase"},
                {"type": "Replace", "pattern": {"String": "\u2019"}, "content": "'"},
                {"type": "Replace", "pattern": {"Regex": f"<br{space}*/?>"}, "content": " "},
            ],
        },
        "pre_tokenizer": {
            "type": "Split",
            "pattern": {"Regex": f"{word}+(?:'{word}+)*"},
            "behavior": "Removed",
            "invert": True,
        },
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": UNK_TOKEN},
    }


def encode_with(hf_tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Ids from a ``tokenizers.Tokenizer``, with the one rule the format cannot say: no word → [1]."""
    return [enc.ids or [OOV_ID] for enc in hf_tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def check_tokenizer_json(path: Path, tokenizer: Tokenizer, texts: Iterable[str]) -> int:
    """Raise TokenizerJsonError unless ``path`` gives words-v1's ids on texts + EDGE_CASES.

    Returns how many texts were compared.
    """
    from tokenizers import Tokenizer as HfTokenizer

    hf = HfTokenizer.from_file(str(path))
    checked = [*EDGE_CASES, *texts]
    for text, got in zip(checked, encode_with(hf, checked), strict=True):
        expected = tokenizer.encode(text)
        if got != expected:
            raise TokenizerJsonError(
                f"{path.name} differs from words-v1 on {text[:60]!r}: {got[:12]} vs {expected[:12]}"
            )
    return len(checked)


def write_tokenizer_json(path: Path, vocabulary: Sequence[str], max_len: int) -> None:
    """Write the document deterministically (sorted vocabulary by id, stable key order)."""
    text = json.dumps(tokenizer_json(vocabulary, max_len), ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")


def is_tokenizer_json(path: Path) -> bool:
    """Whether ``path`` is a Hugging Face tokenizer.json (an export may replace it; nothing else)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(document, dict) and isinstance(document.get("model"), dict)


def export_tokenizer_json(config: ModelConfig, target: Path, texts: Sequence[str] = ()) -> Path:
    """Write ``target`` (a tokenizer.json), checked against words-v1 on ``texts`` and EDGE_CASES.

    A difference raises TokenizerJsonError; export writes it into its staging folder, so a
    failed check leaves no new file beside the model.
    """
    if config.tokenizer != "words-v1":
        raise TokenizerJsonError(f"no tokenizer.json writer for tokenizer {config.tokenizer!r}")
    write_tokenizer_json(target, config.vocabulary, config.max_len)
    checked = check_tokenizer_json(target, Tokenizer(config.vocabulary, config.max_len), list(texts))
    log.info("tokenizer.json gives words-v1's ids on %d texts", checked)
    return target


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m edgelstm.export.tokenizer_json MODEL.onnx OUTDIR``: tokenizer.json of any model."""
    import argparse

    from edgelstm import Classifier

    parser = argparse.ArgumentParser(prog="python -m edgelstm.export.tokenizer_json", description=main.__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    config = Classifier.load(args.model).config
    args.outdir.mkdir(parents=True, exist_ok=True)
    target = args.outdir / "tokenizer.json"
    write_tokenizer_json(target, config.vocabulary, config.max_len)
    check_tokenizer_json(target, Tokenizer(config.vocabulary, config.max_len), [])
    print(target)  # noqa: T201 (a command: its result on stdout)


if __name__ == "__main__":
    main()
