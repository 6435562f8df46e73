"""The ``tcmodel`` command line's argument parser, and task ids from UI URLs.

Standard library only: ``tcmodel --help`` and usage errors never import the
object model (nor httpx).

Example:
    >>> args = build_parser().parse_args(["log", "Dx4tPEtaRpeIeWpbTD0uHw", "--tail", "5"])
    >>> args.command, args.id, args.tail, args.follow
    ('log', 'Dx4tPEtaRpeIeWpbTD0uHw', 5, False)
"""

from __future__ import annotations

import argparse
import re
from typing import NamedTuple

__all__ = [
    "EXIT",
    "NO_OUTPUT_OPTIONS",
    "Ref",
    "UsageError",
    "add_serve_arguments",
    "build_parser",
    "parse_ref",
]

#: What each exit status means (docs/cli.md lists them too).
EXIT = {
    "ok": 0,
    "failed": 1,
    "usage": 2,
    "not_found": 3,
    "auth": 4,
    "error": 5,
}

_SLUG = re.compile(r"[A-Za-z0-9_-]{22}")
_GROUP_PATH = re.compile(r"/tasks/groups/([A-Za-z0-9_-]{22})(?:/|$)")
_TASK_PATH = re.compile(r"/tasks/([A-Za-z0-9_-]{22})(?:/runs/(\d+))?(?:/|$)")


class UsageError(ValueError):
    """A command line that names nothing usable (exit status 2).

    Example:
        >>> str(UsageError("not a task id: 'x'"))
        "not a task id: 'x'"
    """


class Ref(NamedTuple):
    """What a command-line id names: ``kind`` is ``task``, ``group`` or
    ``id`` (a bare id: either), ``run`` a run id a URL named.

    Example:
        >>> Ref("task", "Dx4tPEtaRpeIeWpbTD0uHw").run is None
        True
    """

    kind: str
    id: str
    run: int | None = None


def parse_ref(text: str) -> Ref:
    """A task or task group id, or a web UI URL of one
    (``https://tc.example.com/tasks/<taskId>[/runs/<n>…]``,
    ``…/tasks/groups/<taskGroupId>``); :class:`UsageError` for anything else.

    Example:
        >>> parse_ref("Dx4tPEtaRpeIeWpbTD0uHw")
        Ref(kind='id', id='Dx4tPEtaRpeIeWpbTD0uHw', run=None)
        >>> parse_ref("https://tc.example.com/tasks/Dx4tPEtaRpeIeWpbTD0uHw/runs/1/logs/live")
        Ref(kind='task', id='Dx4tPEtaRpeIeWpbTD0uHw', run=1)
        >>> parse_ref("https://tc.example.com/tasks/groups/Dx4tPEtaRpeIeWpbTD0uHw").kind
        'group'
        >>> parse_ref("nope")
        Traceback (most recent call last):
        ...
        tcmodel.cli.parser.UsageError: not a task id or task URL: 'nope'
    """
    text = text.strip()
    if _SLUG.fullmatch(text):
        return Ref("id", text)
    if text.startswith(("http://", "https://")):
        path = "/" + text.split("://", 1)[1].partition("/")[2].split("?")[0].split("#")[0]
        group = _GROUP_PATH.search(path)
        if group:
            return Ref("group", group.group(1))
        task = _TASK_PATH.search(path)
        if task:
            run = int(task.group(2)) if task.group(2) is not None else None
            return Ref("task", task.group(1), run)
    raise UsageError(f"not a task id or task URL: {text!r}")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; a wider help column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


#: The subcommands that print neither JSON nor states, nor talk to a deployment.
NO_OUTPUT_OPTIONS = ("demo", "completion")


def _common(output: bool = True) -> argparse.ArgumentParser:
    """Options every subcommand takes (also before the subcommand); without
    ``output`` only ``--debug``. Their defaults are set on the main parser
    only, so a subcommand's absent option does not undo one given before it."""
    parent = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    if output:
        parent.add_argument(
            "--json", action="store_true", help="print JSON (see docs/cli.md for the keys)"
        )
        parent.add_argument(
            "--root-url", metavar="URL", help="the deployment (overrides TASKCLUSTER_ROOT_URL)"
        )
        parent.add_argument(
            "--color",
            choices=("auto", "always", "never"),
            help="colour states: auto (a terminal without NO_COLOR), always, never",
        )
    parent.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parent


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``serve`` (shared with :mod:`tcmodel.testing.cli`).

    Example:
        >>> p = add_serve_arguments(argparse.ArgumentParser())
        >>> p.parse_args(["--demo", "--port", "8080"]).port
        8080
    """
    parser.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    parser.add_argument(
        "--blob-port", type=int, default=0, help="blob origin port (default: a free one)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve the demo's task graph (41 tasks that ran over the past 40 minutes)",
    )
    parser.add_argument(
        "--max-page-size",
        type=int,
        default=None,
        metavar="N",
        help="largest page any listing returns (default: 1000)",
    )
    return parser


_ID = "task id or web UI URL (https://tc.example.com/tasks/<taskId>)"

# name: (help, example lines)
_COMMANDS: dict[str, tuple[str, str]] = {
    "task": (
        "a task: name, state, runs, dependencies' states, UI link",
        "{prog} task Dx4tPEtaRpeIeWpbTD0uHw\n"
        "{prog} task https://tc.example.com/tasks/Dx4tPEtaRpeIeWpbTD0uHw --json",
    ),
    "group": (
        "a task group: state counts, failures with reasons, critical path",
        "{prog} group fN1SbArXTPSVFNUvaOlinQ\n"
        "{prog} group https://tc.example.com/tasks/groups/fN1SbArXTPSVFNUvaOlinQ --tail 10",
    ),
    "log": (
        "a task's log (the latest run's, or --run N's); --follow a running one",
        "{prog} log Dx4tPEtaRpeIeWpbTD0uHw --tail 50\n"
        "{prog} log Dx4tPEtaRpeIeWpbTD0uHw --follow   # until it resolves; exit 0 or 1",
    ),
    "artifacts": (
        "the artifacts of a task's latest run (or of --run N)",
        "{prog} artifacts Dx4tPEtaRpeIeWpbTD0uHw\n"
        "{prog} artifacts Dx4tPEtaRpeIeWpbTD0uHw --run 0 --json",
    ),
    "download": (
        "download an artifact (verified, atomic; a progress bar on a terminal)",
        "{prog} download Dx4tPEtaRpeIeWpbTD0uHw public/build/target.tar.gz\n"
        "{prog} download Dx4tPEtaRpeIeWpbTD0uHw public/build/target.tar.gz -o out/",
    ),
    "find": (
        "the task an index path points to",
        "{prog} find project.app.linux64-opt.latest",
    ),
    "ls": (
        "the namespaces and indexed tasks directly below an index namespace",
        "{prog} ls project.app\n{prog} ls ''   # the root",
    ),
    "rerun": (
        "run a resolved task again (queue.rerunTask)",
        "{prog} rerun Dx4tPEtaRpeIeWpbTD0uHw",
    ),
    "cancel": (
        "cancel a task (queue.cancelTask)",
        "{prog} cancel Dx4tPEtaRpeIeWpbTD0uHw",
    ),
    "wait": (
        "wait until a task (or every task of a group) resolves; exit 1 if any failed",
        "{prog} wait Dx4tPEtaRpeIeWpbTD0uHw --timeout 3600\n"
        "{prog} wait https://tc.example.com/tasks/groups/fN1SbArXTPSVFNUvaOlinQ",
    ),
    "scopes": (
        "the scopes of the current credentials (expanded)",
        "{prog} scopes\nTASKCLUSTER_CLIENT_ID=… TASKCLUSTER_ACCESS_TOKEN=… {prog} scopes --json",
    ),
    "signed-url": (
        "a signed (bewit) URL of an artifact, for curl or a browser",
        "{prog} signed-url Dx4tPEtaRpeIeWpbTD0uHw private/build/secrets.json --expires 600",
    ),
    "serve": (
        "run a local cluster until Ctrl-C (--demo: with the demo's task graph)",
        "{prog} serve --demo\n{prog} serve --port 8080 --max-page-size 10",
    ),
    "demo": (
        "run the demo on an embedded local cluster",
        "{prog} demo",
    ),
    "completion": (
        "print a shell completion script (bash, zsh or fish)",
        "{prog} completion bash > ~/.local/share/bash-completion/completions/tcmodel\n"
        "{prog} completion zsh > ~/.zfunc/_tcmodel\n"
        "{prog} completion fish > ~/.config/fish/completions/tcmodel.fish",
    ),
}


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def build_parser(prog: str = "tcmodel") -> argparse.ArgumentParser:
    """The parser of the ``tcmodel`` command line (``prog``: the name shown
    in usage lines, ``python -m tcmodel`` when run so).

    Example:
        >>> p = build_parser()
        >>> p.parse_args(["--json", "wait", "fN1SbArXTPSVFNUvaOlinQ", "--poll", "0.5"]).json
        True
        >>> p.parse_args(["wait", "fN1SbArXTPSVFNUvaOlinQ", "--json"]).json
        True
        >>> sorted(p.parse_args(["scopes"]).__dict__)
        ['color', 'command', 'debug', 'json', 'root_url', 'version']
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Explore and drive a Taskcluster deployment from the shell: tasks, groups,\n"
        "logs, artifacts, the index. Connects as TASKCLUSTER_ROOT_URL, TASKCLUSTER_CLIENT_ID,\n"
        "TASKCLUSTER_ACCESS_TOKEN (and _CERTIFICATE) or TASKCLUSTER_PROXY_URL say;\n"
        "anonymous without credentials.",
        epilog=f"examples:\n  {prog} task https://tc.example.com/tasks/Dx4tPEtaRpeIeWpbTD0uHw\n"
        f"  {prog} log Dx4tPEtaRpeIeWpbTD0uHw --follow\n"
        f"  {prog} <command> --help\n\n"
        "exit status: 0 ok, 1 a task or group failed (wait, log --follow), 2 usage,\n"
        "3 not found, 4 authentication or scopes, 5 any other error",
        formatter_class=_Formatter,
        parents=[_common()],
    )
    parser.set_defaults(json=False, root_url=None, color="auto", debug=False, command=None)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    common, debug_only = _common(), _common(output=False)
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")

    def add(name: str) -> argparse.ArgumentParser:
        text, example = _COMMANDS[name]
        epilog = "example:\n" + "\n".join(
            "  " + line for line in example.format(prog=prog).splitlines()
        )
        return sub.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=epilog,
            parents=[debug_only if name in NO_OUTPUT_OPTIONS else common],
            formatter_class=_Formatter,
        )

    add("task").add_argument("id", help=_ID)

    p = add("group")
    p.add_argument("id", help="task group id, or web UI URL of the group or of one of its tasks")
    p.add_argument(
        "--tail", type=_count, default=3, metavar="N", help="log lines per failure (default: 3)"
    )

    p = add("log")
    p.add_argument("id", help=_ID)
    p.add_argument("--run", type=_count, metavar="N", help="this run's log (default: the latest)")
    p.add_argument("--tail", type=_count, metavar="N", help="only the last N lines")
    p.add_argument(
        "-f", "--follow", action="store_true", help="print the log as it grows until the task ends"
    )
    p.add_argument(
        "--poll",
        type=_positive,
        default=2.0,
        metavar="SECONDS",
        help="pause between reads of a growing log (default: 2)",
    )

    p = add("artifacts")
    p.add_argument("id", help=_ID)
    p.add_argument("--run", type=_count, metavar="N", help="this run's (default: the latest)")

    p = add("download")
    p.add_argument("id", help=_ID)
    p.add_argument("name", help="artifact name, e.g. public/build/target.tar.gz")
    p.add_argument(
        "-o",
        "--output",
        default=".",
        metavar="PATH",
        help="file, or folder ending in / (default: the artifact's basename here)",
    )
    p.add_argument("--run", type=_count, metavar="N", help="this run's (default: the latest)")

    add("find").add_argument("path", help="index path: <namespace>.<name>")
    add("ls").add_argument("namespace", nargs="?", default="", help="namespace (default: root)")
    add("rerun").add_argument("id", help=_ID)
    add("cancel").add_argument("id", help=_ID)

    p = add("wait")
    p.add_argument("id", help="task or task group id, or a web UI URL of either")
    p.add_argument("--group", action="store_true", help="the id is a task group's")
    p.add_argument("--timeout", type=_positive, metavar="SECONDS", help="give up after (exit 5)")
    p.add_argument(
        "--poll",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="first pause between polls; grows to a minute (default: 5)",
    )

    add("scopes")

    p = add("signed-url")
    p.add_argument("id", help=_ID)
    p.add_argument("name", help="artifact name")
    p.add_argument(
        "--expires",
        type=_positive,
        default=3600,
        metavar="SECONDS",
        help="how long the URL works (default: 3600)",
    )
    p.add_argument("--run", type=_count, metavar="N", help="this run's (default: the latest)")

    add_serve_arguments(add("serve"))
    add("demo")
    add("completion").add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser
