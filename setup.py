"""The one C extension (everything else is in pyproject.toml): words-v1's loop over many texts.

Optional: without a C compiler `pip install .` still installs, and ``Tokenizer.encode_many``
runs its numpy passes instead (the same ids, slower)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("edgelstm._words", ["runtime/_words.c"], optional=True)])
