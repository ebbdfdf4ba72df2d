# The C extension edgelstm._words (runtime/_words.c), for mypy.
from collections.abc import Sequence

__all__ = ["Vocabulary"]

class Vocabulary:
    def __init__(self, keys: Sequence[bytes], ids: Sequence[int], byte_map: bytes, multiplier: int) -> None: ...
    def encode(self, texts: Sequence[str | bytes], max_len: int, oov: int) -> tuple[bytearray, bytearray]: ...
