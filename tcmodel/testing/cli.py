"""``python -m tcmodel serve``: run a local cluster until Ctrl-C.

It prints the ``export`` lines that point the official clients (and
tcmodel) at the cluster, with the cluster's own root credentials: the one
place where the local root access token is shown, since it is the user's
own throw-away credential. With ``--demo`` the cluster first gets the
demo's task graph (:func:`tcmodel.demo.build_graph`) and the output adds
``export TCMODEL_DEMO_GROUP=<taskGroupId>`` and how to connect.

Example:
    >>> build_parser().parse_args(["--port", "8080"]).port
    8080
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TextIO

from tcmodel.testing.server import LocalCluster
from tcmodel.testing.state import Settings

__all__ = ["build_parser", "run_server", "serve"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m tcmodel serve`` (its options are
    :func:`tcmodel.cli.parser.add_serve_arguments`).

    Example:
        >>> build_parser().parse_args([]).max_page_size is None  # the default: 1000
        True
        >>> build_parser().parse_args(["--demo"]).demo
        True
    """
    from tcmodel.cli.parser import add_serve_arguments

    return add_serve_arguments(
        argparse.ArgumentParser(
            prog="python -m tcmodel serve",
            description="Run an embedded Taskcluster (queue, index, object) on 127.0.0.1.",
        )
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


_HOW_TO = """\
# Connect from Python, in a shell where the lines above are exported:
#     import os, tcmodel
#     cluster = tcmodel.Cluster.from_env()
#     group = cluster.task_group(os.environ["TCMODEL_DEMO_GROUP"])
#     group.tasks().filter(state="failed")
# or open tcmodel's docs/examples/explore.ipynb in Jupyter."""


def _demo(cluster: LocalCluster) -> str:
    """Build the demo's task graph on ``cluster``; returns its task group id."""
    from tcmodel.demo import build_graph

    with cluster.connect() as admin:
        group_id, _ = build_graph(cluster, admin)
    return group_id


def _print_json(cluster: LocalCluster, group_id: str | None, out: TextIO) -> None:
    """What ``serve --json`` prints: the cluster's URLs and root credentials."""
    import json

    creds = cluster.root_credentials
    record = {
        "root_url": cluster.root_url,
        "blob_url": cluster.blob_url,
        "client_id": creds.client_id,
        "access_token": creds.access_token,
        "task_group_id": group_id,
    }
    print(json.dumps(record, sort_keys=True), file=out)


def serve(
    argv: list[str] | None = None,
    *,
    out: TextIO | None = None,
    wait: Callable[[], object] | None = None,
) -> int:
    """Start a :class:`LocalCluster` (with the demo's task graph when
    ``--demo`` is given), print its environment, serve until Ctrl-C or
    SIGTERM; returns the exit status.

    ``out`` (default stdout) and ``wait`` (default: block forever) exist for
    tests.

    Example:
        >>> import io
        >>> buf = io.StringIO()
        >>> serve(["--max-page-size", "5"], out=buf, wait=lambda: None)
        0
        >>> "export TASKCLUSTER_ROOT_URL=http://127.0.0.1:" in buf.getvalue()
        True
    """
    return run_server(build_parser().parse_args(argv), out=out, wait=wait)


def run_server(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    wait: Callable[[], object] | None = None,
) -> int:
    """:func:`serve` with the options parsed already (``tcmodel serve``).

    Example:
        >>> import io
        >>> buf = io.StringIO()
        >>> run_server(build_parser().parse_args([]), out=buf, wait=lambda: None)
        0
        >>> "# blob origin: http://127.0.0.1:" in buf.getvalue()
        True
        >>> from tcmodel.cli.parser import build_parser as cli_parser
        >>> buf = io.StringIO()
        >>> run_server(cli_parser().parse_args(["serve", "--json"]), out=buf, wait=lambda: None)
        0
        >>> import json
        >>> sorted(json.loads(buf.getvalue()))
        ['access_token', 'blob_url', 'client_id', 'root_url', 'task_group_id']
    """
    out = out if out is not None else sys.stdout
    page_size = args.max_page_size if args.max_page_size is not None else Settings().max_page_size
    settings = Settings(max_page_size=page_size)
    try:
        cluster = LocalCluster(settings=settings, port=args.port, blob_port=args.blob_port)
        cluster.start()
    except OSError as e:
        print(f"cannot start the local cluster: {e}", file=sys.stderr)
        return 5  # the command line's "any other error"
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        if on_main_thread:
            signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly on `kill` too
        group_id = _demo(cluster) if args.demo else None
        creds = cluster.root_credentials
        if getattr(args, "json", False):  # `tcmodel serve --json`: one line for scripts
            _print_json(cluster, group_id, out)
        else:
            print(f"export TASKCLUSTER_ROOT_URL={cluster.root_url}", file=out)
            print(f"export TASKCLUSTER_CLIENT_ID={creds.client_id}", file=out)
            print(f"export TASKCLUSTER_ACCESS_TOKEN={creds.access_token}", file=out)
            if group_id is not None:
                print(f"export TCMODEL_DEMO_GROUP={group_id}", file=out)
                print(_HOW_TO, file=out)
            print(f"# blob origin: {cluster.blob_url}; press Ctrl-C to stop", file=out)
        out.flush()
        (wait or threading.Event().wait)()
    except KeyboardInterrupt:
        pass
    finally:
        if on_main_thread and previous is not None:
            signal.signal(signal.SIGTERM, previous)
        cluster.stop()
    return 0
