"""``python -m edgelstm``: the ``edgelstm`` command."""

from edgelstm.cli import main

main()
