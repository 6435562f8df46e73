"""``python -m tcmodel``: the command line (:mod:`tcmodel.cli`), named so in usage lines.

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    tcmodel ...
    0
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line as ``python -m tcmodel`` (or as ``tcmodel`` when
    a console script installed before :func:`tcmodel.cli.main` was its entry
    point calls this); returns the exit status.

    Example:
        >>> main(["--version"])
        tcmodel ...
        0
    """
    from tcmodel.cli import main as cli_main

    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    return cli_main(argv, prog="tcmodel" if script == "tcmodel" else "python -m tcmodel")


if __name__ == "__main__":
    sys.exit(main())
