"""What every resource handle shares: identity, repr, lazy loading.

A handle knows its cluster and its own ids; building one sends nothing.
Data is loaded on first read, once, through the cluster's transport, and
kept until :meth:`Resource.refresh`.

Example:
    >>> import tcmodel
    >>> cluster = tcmodel.Cluster.from_url("https://tc.example.com")
    >>> task = cluster.task("Dx4tPEtaRpeIeWpbTD0uHw")
    >>> task
    <Task taskId='Dx4tPEtaRpeIeWpbTD0uHw'>
    >>> task == cluster.task("Dx4tPEtaRpeIeWpbTD0uHw"), task.loaded
    (True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tcmodel.transport import Op, Transport

if TYPE_CHECKING:
    from tcmodel.cluster import Cluster
    from tcmodel.display.views import Printer

__all__ = ["Resource"]

T = TypeVar("T")
_MISSING: Any = object()


class Resource:
    """Base class of the lazy handles (TaskGroup, Task, Run, Artifact, …).

    Subclasses list their identity in :meth:`_identity` (name/value pairs in
    Taskcluster's spelling, shown by ``repr``), may add loaded facts to the
    repr with :meth:`_loaded_facts`, and load data with :meth:`_cached`.

    Example:
        >>> import tcmodel
        >>> g = tcmodel.Cluster.from_url("https://tc.example.com").task_group(
        ...     "XDqefRsvTG6ajX5vWks8LQ")
        >>> hash(g) == hash(g.cluster.task_group("XDqefRsvTG6ajX5vWks8LQ"))
        True
    """

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    @property
    def cluster(self) -> Cluster:
        """The cluster this handle belongs to.

        Example:
            >>> import tcmodel
            >>> tcmodel.Cluster.from_url("https://tc.example.com").task_group(
            ...     "XDqefRsvTG6ajX5vWks8LQ").cluster
            <Cluster 'https://tc.example.com' anonymous>
        """
        return self._cluster

    @property
    def _transport(self) -> Transport:
        return self._cluster.transport

    def _run(self, op: Op[T]) -> T:
        return self._cluster.transport.run(op)

    # identity

    def _identity(self) -> tuple[tuple[str, Any], ...]:
        raise NotImplementedError

    def _loaded_facts(self) -> tuple[tuple[str, Any], ...]:
        return ()

    def _label(self) -> str | None:
        """What a person calls the resource, when known without a request
        (a task's name): shown in the repr before the ids."""
        return None

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Resource)
            and other._cluster.root_url == self._cluster.root_url
            and other._identity() == self._identity()
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._cluster.root_url, self._identity()))

    def __repr__(self) -> str:
        label = self._label()
        parts = [repr(label)] if label is not None else []
        parts += [f"{k}={v!r}" for k, v in (*self._identity(), *self._loaded_facts())]
        return f"<{type(self).__name__} {' '.join(parts)}>"

    # rich displays (IPython, Jupyter): built from loaded data only

    def _repr_pretty_(self, p: Printer, cycle: bool) -> None:
        from tcmodel.display.views import pretty

        pretty(self, p, cycle)

    def _repr_html_(self) -> str:
        from tcmodel.display.views import html

        return html(self)

    # lazy data

    def _cached(self, attr: str, load: Callable[[], Op[T]]) -> T:
        """The value kept in ``attr``, loaded with ``load()`` the first time."""
        value = self.__dict__.get(attr, _MISSING)
        if value is _MISSING or value is None:
            value = self._run(load())
            setattr(self, attr, value)
        return value  # type: ignore[no-any-return]

    def _is_cached(self, attr: str) -> bool:
        return self.__dict__.get(attr) is not None
