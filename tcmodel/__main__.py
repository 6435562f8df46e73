"""Command line: ``python -m tcmodel {demo,serve,--version}``.

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    tcmodel ...
    0
"""

from __future__ import annotations

import argparse
import sys

from tcmodel._version import __version__

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``tcmodel`` command line and return its exit status.

    Example:
        >>> main(["--version"])
        tcmodel ...
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m tcmodel",
        description="Explore and drive a Taskcluster deployment as a lazy tree of objects.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="run the demo on an embedded local cluster", add_help=False)
    sub.add_parser(
        "serve",
        help="run a local cluster until Ctrl-C (--demo: with the demo's task graph)",
        add_help=False,
    )
    args, rest = parser.parse_known_args(argv)
    if args.version:
        print(f"tcmodel {__version__}")
        return 0
    if args.command == "serve":
        from tcmodel.testing.cli import serve

        return serve(rest)
    if args.command == "demo":
        from tcmodel.demo import main as demo

        return demo(rest)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
