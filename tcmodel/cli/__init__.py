"""The ``tcmodel`` command line: everyday questions about tasks, groups,
logs, artifacts and the index, one command away (see docs/cli.md).

This package imports the standard library only; the object model is
imported once a command runs, so ``tcmodel --help`` and usage errors are
instant. Errors are one line on stderr (``--debug`` shows the traceback);
the exit status says what happened (:data:`~tcmodel.cli.parser.EXIT`).

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    tcmodel ...
    0
    >>> main(["--root-url", lc.root_url, "task", "not-a-task-id"])
    2
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from tcmodel.cli.output import Output, use_color
from tcmodel.cli.parser import EXIT, NO_OUTPUT_OPTIONS, UsageError, build_parser

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster

__all__ = ["EXIT", "Context", "exit_status", "main"]


class Context:
    """What a command runs with: the parsed options, the environment, and
    where it writes.

    Example:
        >>> import io
        >>> args = build_parser().parse_args(["--json", "scopes"])
        >>> ctx = Context(args, {}, io.StringIO())
        >>> ctx.json, ctx.out.color
        (True, False)
    """

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str], stream: TextIO):
        self.args = args
        self.environ = environ
        self.json: bool = bool(args.json)
        self.out = Output(stream, color=use_color(args.color, stream, environ))

    def environment(self) -> dict[str, str]:
        """The ``TASKCLUSTER_*`` variables to connect with: ``--root-url``
        replaces the root URL and bypasses a task's proxy.

        Example:
            >>> args = build_parser().parse_args(["--root-url", "https://tc.example.com", "scopes"])
            >>> Context(args, {"TASKCLUSTER_PROXY_URL": "http://taskcluster"},
            ...         sys.stdout).environment()
            {'TASKCLUSTER_ROOT_URL': 'https://tc.example.com'}
        """
        env = {k: v for k, v in self.environ.items() if k.startswith("TASKCLUSTER_")}
        if self.args.root_url:
            env["TASKCLUSTER_ROOT_URL"] = self.args.root_url
            env.pop("TASKCLUSTER_PROXY_URL", None)
        return env

    @contextmanager
    def cluster(self) -> Iterator[Cluster]:
        """A :class:`~tcmodel.Cluster` from the environment, closed after;
        :class:`~tcmodel.cli.parser.UsageError` when nothing names a
        deployment.

        Example:
            >>> args = build_parser().parse_args(["--root-url", lc.root_url, "scopes"])
            >>> with Context(args, {}, sys.stdout).cluster() as c:
            ...     c.credentials is None
            True
            >>> with Context(build_parser().parse_args(["scopes"]), {}, sys.stdout).cluster():
            ...     pass
            Traceback (most recent call last):
            ...
            tcmodel.cli.parser.UsageError: TASKCLUSTER_ROOT_URL is not set: ...
        """
        from tcmodel.cluster import Cluster

        env = self.environment()
        if not env.get("TASKCLUSTER_ROOT_URL") and not env.get("TASKCLUSTER_PROXY_URL"):
            raise UsageError(
                "TASKCLUSTER_ROOT_URL is not set: export it (your deployment's URL,"
                " e.g. https://tc.example.com) or pass --root-url URL"
            )
        with Cluster.from_env(env) as cluster:
            yield cluster


def exit_status(error: BaseException) -> int:
    """The exit status of a command that raised ``error``: 2 for usage and
    configuration, 3 not found, 4 authentication or scopes, 5 anything else.

    Example:
        >>> from tcmodel.errors import NotFound, ConfigurationError
        >>> exit_status(NotFound(call="queue.task", method="GET", url="u", status=404))
        3
        >>> exit_status(ConfigurationError("TASKCLUSTER_ROOT_URL is not set"))
        2
    """
    from tcmodel import errors

    if isinstance(error, (UsageError, errors.ConfigurationError, ValueError)):
        return EXIT["usage"]
    if isinstance(error, errors.NotFound):
        return EXIT["not_found"]
    if isinstance(error, (errors.AuthenticationFailed, errors.InsufficientScopes)):
        return EXIT["auth"]
    return EXIT["error"]


def _one_line(error: BaseException) -> str:
    from tcmodel.errors import redact_url  # (no signature of a URL on stderr)

    text = redact_url(" ".join(str(error).split())) or type(error).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def main(
    argv: list[str] | None = None,
    prog: str = "tcmodel",
    *,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and
    return the exit status. ``environ`` replaces ``os.environ``.

    Example:
        >>> main(["--root-url", lc.root_url, "--json", "wait", build.task_id])
        {"state": "completed", "task_id": "..."}
        0
        >>> main(["wait"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        SystemExit: 2
    """
    parser = build_parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    out = sys.stdout
    if args.version:
        from tcmodel._version import __version__

        print(f"tcmodel {__version__}", file=out)
        return EXIT["ok"]
    if args.command is None:
        parser.print_help(out)
        return EXIT["usage"]
    if args.command in NO_OUTPUT_OPTIONS and args.json:
        parser.error(f"{args.command} prints no JSON (--json)")
    if args.command == "completion":
        from tcmodel.cli.completion import script

        out.write(script(args.shell, parser))
        return EXIT["ok"]
    ctx = Context(args, env, out)
    try:
        from tcmodel.cli.commands import COMMANDS

        return COMMANDS[args.command](args, ctx)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT["ok"]
    except Exception as error:  # one clear line; the traceback too with --debug
        if args.debug:
            import traceback

            traceback.print_exc()
        from tcmodel.errors import TaskclusterError

        known = (TaskclusterError, UsageError, ValueError, OSError)
        what = "error" if isinstance(error, known) else "internal error"
        hint = "" if isinstance(error, known) else " (--debug shows where)"
        print(f"{parser.prog}: {what}: {_one_line(error)}{hint}", file=sys.stderr)
        return exit_status(error)
