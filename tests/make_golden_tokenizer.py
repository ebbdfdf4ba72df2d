"""Write tests/data/golden-tokenizer.json: words-v1 golden vectors for any implementation.

Run only when the words-v1 rule changes on purpose (which would make it a new tokenizer name):
the file is the reference that Python (tests/test_tokenizer_json.py) and JavaScript
(web/test/golden.test.mjs) are held to. Each case was read by hand when it was added.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgelstm.export.tokenizer_json import EDGE_CASES, tokenizer_json
from edgelstm.tokenizer import Tokenizer

VOCABULARY = [
    "the", "movie", "was", "great", "don't", "film", "bad", "it", "電影", "10", "amour", "br", "x",
    "y", "i", "σ", "ς", "οδος", "σα", "café", "ss", "x2", "5", "stars", "new", "letters", "since",
]
MAX_LEN = 8
MORE_CASES = (
    "The movie was great",
    "It was a BAD film!",
    "don't",
    "the movie was great film bad it the movie",  # 10 words: the last 8 are kept
    "don’t stop—it's 10/10",
    "'quoted' words_with_underscores",
    "Caf\u00e9 cafe\u0301",
    "這部電影 😀 great",
    "ΟΔΟΣ οδοσ Οδος",
    "x\tx\nx\rx\x0bx\x0cx\u00a0x\u3000x",
)
TARGET = Path(__file__).with_name("data") / "golden-tokenizer.json"


def main() -> None:
    tokenizer = Tokenizer(VOCABULARY, MAX_LEN)
    cases = [{"text": text, "ids": tokenizer.encode(text)} for text in (*EDGE_CASES, *MORE_CASES)]
    document = {
        "tokenizer": "words-v1",
        "about": "ids of each text for this vocabulary and max_len (README, 'Use it outside Python'); "
        "a text without words is [1]; tokenizer_json is the tokenizer.json export writes for them",
        "vocabulary": VOCABULARY,
        "max_len": MAX_LEN,
        "cases": cases,
        "tokenizer_json": tokenizer_json(VOCABULARY, MAX_LEN),
    }
    TARGET.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(TARGET)


if __name__ == "__main__":
    main()
