"""A throwaway RabbitMQ broker on 127.0.0.1, for tests of Pulse code.

:class:`RabbitMQ` runs Debian's ``rabbitmq-server`` (``apt-get install
rabbitmq-server``) as a child process on free loopback ports, with its data,
logs, Erlang cookie and its own ``epmd`` in a temporary directory, and no
plugins. Nothing is left behind when it stops; no system service is used.

Example:
    >>> with RabbitMQ() as broker:  # doctest: +SKIP
    ...     broker.url.startswith("amqp://guest:guest@127.0.0.1:")
    True
    >>> RabbitMQ.available() in (True, False)
    True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from tcmodel._closing import Closing
from tcmodel.errors import TaskclusterError

__all__ = ["BrokerError", "RabbitMQ"]

#: Where Debian's package keeps the un-wrapped server script (runs as the
#: calling user; ``/usr/sbin/rabbitmq-server`` would switch to ``rabbitmq``).
_SERVER_SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmq-server",)


class BrokerError(TaskclusterError):
    """The test broker could not be started (or stopped).

    Example:
        >>> str(BrokerError("no rabbitmq-server"))
        'no rabbitmq-server'
    """


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_script() -> str | None:
    for path in _SERVER_SCRIPTS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("rabbitmq-server")


class RabbitMQ(Closing):
    """A RabbitMQ node of its own, on 127.0.0.1 only (a context manager).

    ``url`` is its AMQP URL (user ``guest``, which RabbitMQ admits from
    loopback only). With ``tls=(certfile, keyfile)`` (PEM files of a
    self-signed certificate for ``127.0.0.1``) it listens for ``amqps`` too,
    at ``tls_url``. :meth:`restart` stops and starts it again on the same
    port with the same data (durable exchanges survive, connections drop).
    :meth:`start` raises :class:`BrokerError` when ``rabbitmq-server`` is
    missing or does not come up within ``start_timeout`` seconds.

    Example:
        >>> broker = RabbitMQ(start_timeout=60)
        >>> broker.running
        False
        >>> broker.url.startswith("amqp://guest:guest@127.0.0.1:")
        True
    """

    def __init__(self, *, start_timeout: float = 60.0, tls: tuple[str, str] | None = None) -> None:
        self.start_timeout = start_timeout
        self.tls = tls
        self.tls_port = _free_port() if tls is not None else None
        self.port = _free_port()
        self._dist_port = _free_port()
        self._epmd_port = _free_port()
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """Whether ``rabbitmq-server`` is installed here.

        Example:
            >>> isinstance(RabbitMQ.available(), bool)
            True
        """
        return _server_script() is not None and shutil.which("epmd") is not None

    @property
    def url(self) -> str:
        """The broker's AMQP URL.

        Example:
            >>> RabbitMQ().url.endswith("/")
            True
        """
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def tls_url(self) -> str | None:
        """The broker's ``amqps`` URL, trusting its certificate (``None``
        without ``tls``).

        Example:
            >>> RabbitMQ(tls=("/c/cert.pem", "/c/key.pem")).tls_url.endswith(
            ...     "/?cacertfile=%2Fc%2Fcert.pem")
            True
            >>> RabbitMQ().tls_url is None
            True
        """
        if self.tls is None:
            return None
        where = urlencode({"cacertfile": self.tls[0]})
        return f"amqps://guest:guest@127.0.0.1:{self.tls_port}/?{where}"

    def _config(self) -> str:
        lines = [f"listeners.tcp.default = 127.0.0.1:{self.port}"]
        if self.tls is not None:
            cert, key = self.tls
            lines += [
                f"listeners.ssl.default = 127.0.0.1:{self.tls_port}",
                f"ssl_options.cacertfile = {cert}",
                f"ssl_options.certfile = {cert}",
                f"ssl_options.keyfile = {key}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
            ]
        return "\n".join(lines) + "\n"

    @property
    def running(self) -> bool:
        """Whether the server process is alive.

        Example:
            >>> RabbitMQ().running
            False
        """
        return self._proc is not None and self._proc.poll() is None

    def _env(self, base: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(base),
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self._dist_port),
            RABBITMQ_NODENAME=f"tcmodel-{os.getpid()}-{self.port}@localhost",
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_LOGS="-",
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
            RABBITMQ_PID_FILE=str(base / "rabbitmq.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
            # the Erlang distribution port too, on loopback only
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_PORT=str(self._epmd_port),
        )
        return env

    def start(self) -> RabbitMQ:
        """Start the node (and its epmd) and wait until it accepts
        connections; returns self.

        Example:
            >>> RabbitMQ.start  # doctest: +ELLIPSIS
            <function RabbitMQ.start at ...>
        """
        script = _server_script()
        epmd = shutil.which("epmd")
        if script is None or epmd is None:
            raise BrokerError(
                "rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)"
            )
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="tcmodel-rabbitmq-"))
            (self._dir / "enabled_plugins").write_text("[].\n")
            (self._dir / "rabbitmq.conf").write_text(self._config())
        env = self._env(self._dir)
        if self._epmd is None or self._epmd.poll() is not None:
            self._epmd = subprocess.Popen(
                [epmd, "-address", "127.0.0.1", "-port", str(self._epmd_port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        log = open(self._dir / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            self._proc = subprocess.Popen(
                [script],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout
        waiting = [p for p in (self.port, self.tls_port) if p is not None]
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5):
                    del waiting[0]
            except OSError:
                time.sleep(0.1)
            if not waiting:
                return self
        tail = self.log_tail()
        self.stop()
        raise BrokerError(f"rabbitmq-server did not start on 127.0.0.1:{self.port}:\n{tail}")

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the server's output ('' before it ran).

        Example:
            >>> RabbitMQ().log_tail()
            ''
        """
        if self._dir is None or not (self._dir / "server.log").exists():
            return ""
        text = (self._dir / "server.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _stop_server(self, timeout: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            # the whole session: the script's shell and the Erlang VM under it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # the VM may outlive the script's shell by a moment
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def stop_server(self) -> None:
        """Stop the node only (keep its port, data and epmd): the broker is
        down until :meth:`start` is called again.

        Example:
            >>> RabbitMQ().stop_server()
        """
        self._stop_server()

    def restart(self) -> None:
        """Stop the node and start it again on the same port, same data.

        Example:
            >>> RabbitMQ.restart  # doctest: +ELLIPSIS
            <function RabbitMQ.restart at ...>
        """
        self._stop_server()
        self.start()

    def stop(self) -> None:
        """Stop the node and its epmd and delete its directory.

        Example:
            >>> RabbitMQ().stop()
        """
        self._stop_server()
        epmd, self._epmd = self._epmd, None
        if epmd is not None and epmd.poll() is None:
            epmd.terminate()
            epmd.wait(10)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def close(self) -> None:
        """The same as :meth:`stop` (called when a ``with`` block ends).

        Example:
            >>> RabbitMQ().close()
        """
        self.stop()

    def __enter__(self) -> RabbitMQ:
        return self.start()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RabbitMQ 127.0.0.1:{self.port} {state}>"
