"""Work on a download's bytes (hashing them, writing them to a file) done on
a thread of its own, so that on several cores it overlaps reading the socket.

:class:`Pipeline` hands byte pieces, in order and in batches of about
:data:`BATCH` bytes, to a ``work`` function: on the caller's thread for a
small body (no thread for a 1 MiB artifact), then on one worker thread per
pipeline, with at most :data:`DEPTH` batches waiting for it (memory stays
flat: a fast reader waits for a slow worker). hashlib and file writes
release the GIL, so the worker runs while the reader waits for the network
and decodes HTTP.

Example:
    >>> import hashlib
    >>> h = hashlib.sha256()
    >>> with Pipeline(lambda pieces: [h.update(p) for p in pieces], inline=0) as pipe:
    ...     for _ in range(100):
    ...         pipe.add(b"x" * 65536)
    ...     pipe.drain()
    >>> h.hexdigest() == hashlib.sha256(b"x" * 6553600).hexdigest()
    True
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO

__all__ = ["BATCH", "DEPTH", "INLINE", "Pipeline", "write_all"]

#: Bytes handed to the work function at once.
BATCH = 1 << 20
#: Batches that may wait for the worker thread.
DEPTH = 2
#: Bytes processed on the caller's thread before a worker thread starts.
INLINE = 8 << 20
#: Pieces in one batch at most (``os.writev`` takes at most ``IOV_MAX``).
_MAX_PIECES = 256
#: Worker threads that may run at once, over every pipeline; beyond, the
#: work is done on the caller's thread (hundreds of concurrent downloads
#: must not make hundreds of threads).
_THREADS = threading.BoundedSemaphore(max(4, 2 * (os.cpu_count() or 1)))

_STOP: list[bytes] = []  # (a sentinel: only ever compared by identity)


class Pipeline:
    """Hands byte pieces to ``work(pieces)`` in order, in batches of about
    ``batch`` bytes: on the caller's thread for the first ``inline`` bytes,
    then on a worker thread (when one is free) with at most ``depth``
    batches waiting.

    An error of ``work`` on the worker is raised by the next :meth:`add`
    or :meth:`drain`; :meth:`close` (also the end of a ``with`` block)
    drops what is still waiting and returns once the worker has stopped.

    Example:
        >>> got = []
        >>> with Pipeline(got.extend, batch=4) as pipe:
        ...     for piece in (b"ab", b"cd", b"ef"):
        ...         pipe.add(piece)
        ...     pipe.drain()
        >>> got
        [b'ab', b'cd', b'ef']
    """

    def __init__(
        self,
        work: Callable[[list[bytes]], None],
        *,
        batch: int = BATCH,
        inline: int = INLINE,
        depth: int = DEPTH,
    ) -> None:
        self._work = work
        self._limit = batch
        self._inline = inline
        self._depth = depth
        self._batch: list[bytes] = []
        self._size = 0
        self._done = 0  # bytes processed on the caller's thread
        self._queue: queue.Queue[list[bytes]] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stopping = False

    def add(self, piece: bytes) -> None:
        """Hand ``piece`` on (it must not change afterwards: ``bytes``).

        Example:
            >>> with Pipeline(print, batch=1) as pipe:
            ...     pipe.add(b"ab")
            [b'ab']
        """
        if self._error is not None:
            raise self._error
        self._batch.append(piece)
        self._size += len(piece)
        if self._size >= self._limit or len(self._batch) >= _MAX_PIECES:
            self._flush()

    def _flush(self) -> None:
        batch, size = self._batch, self._size
        if not batch:
            return
        self._batch, self._size = [], 0
        if self._queue is None and (self._done < self._inline or not self._start()):
            self._done += size
            self._work(batch)
            return
        assert self._queue is not None
        self._queue.put(batch)  # waits while ``depth`` batches wait

    def _start(self) -> bool:
        if not _THREADS.acquire(blocking=False):
            return False
        self._queue = queue.Queue(self._depth)
        self._thread = threading.Thread(target=self._run, name="tcmodel-pipeline", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            _THREADS.release()
            self._queue, self._thread = None, None
            raise
        return True

    def _run(self) -> None:
        assert self._queue is not None
        try:
            while True:
                batch = self._queue.get()
                try:
                    if batch is _STOP:
                        return
                    if self._error is None and not self._stopping:
                        self._work(batch)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc
                finally:
                    self._queue.task_done()
        finally:
            _THREADS.release()

    def drain(self) -> None:
        """Return once every piece handed on has been processed (raising
        the work's error, if it failed).

        Example:
            >>> got = []
            >>> with Pipeline(got.extend) as pipe:
            ...     pipe.add(b"ab")
            ...     before = list(got)
            ...     pipe.drain()
            >>> before, got
            ([], [b'ab'])
        """
        self._flush()
        if self._queue is not None:
            self._queue.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Drop what has not been processed yet and stop the worker (return
        once it has stopped: it touches nothing afterwards). Idempotent.

        Example:
            >>> got = []
            >>> pipe = Pipeline(got.extend)
            >>> pipe.add(b"ab")
            >>> pipe.close()
            >>> got
            []
        """
        self._batch, self._size = [], 0
        thread, self._thread = self._thread, None
        if thread is None:
            return
        assert self._queue is not None
        self._stopping = True  # what still waits is skipped
        self._queue.put(_STOP)
        thread.join()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_all(file: BinaryIO, pieces: list[bytes]) -> None:
    """Write ``pieces`` to ``file`` (an unbuffered or flushed binary file)
    at its position, with as few system calls as the system allows
    (``os.writev``: no copy into one buffer).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryFile() as f:
        ...     write_all(f, [b"ab", b"", b"cd"])
        ...     _ = f.seek(0)
        ...     f.read()
        b'abcd'
    """
    writev = getattr(os, "writev", None)
    if writev is None:  # (Windows)
        for piece in pieces:
            file.write(piece)
        return
    fd = file.fileno()
    views = [memoryview(p) for p in pieces if p]
    while views:
        written = writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]
