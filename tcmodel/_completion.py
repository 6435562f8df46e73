"""Tab completion that never fetches: types IPython and jedi can read statically.

On TAB, IPython completes ``obj.attr.`` from the *type* of ``obj.attr``:

- jedi (the default) reads a property's return annotation at run time
  (``typing.get_type_hints(prop.fget)``). It understands plain classes and the
  ``typing`` forms ``Optional[X]``, ``Tuple[X, ...]``, ``List[X]``, but not
  ``X | None`` or ``tuple[X, ...]``; for those it *executes the property*,
  which on a lazy handle sends a request. It sees a class attribute only when
  the class has one: an attrs field in ``__slots__`` is a bare member
  descriptor to it, so ``task.definition.metadata.`` offered nothing.
- IPython's own evaluator (jedi off) never runs a property: it looks the
  name up in the class's ``__annotations__`` and completes from an object
  impersonating that type. Annotations must be objects, not strings, and a
  slotted class cannot be impersonated.

:func:`expose_models` and :func:`expose_resources` run once, when the models
and the resources are imported, and give both completers what they need:
resolved, jedi-friendly return annotations on properties and methods, class
``__annotations__`` for IPython, model fields that jedi sees as annotated
properties (while instances keep their slots, and IPython still reads a live
model's fields directly), and for IPython a plain stand-in of each model
class ("shadow") to impersonate. Source code keeps ordinary annotations.

Example:
    >>> import typing
    >>> from tcmodel.resources import Task, Run
    >>> typing.get_type_hints(Task.latest_run.fget)["return"]
    typing.Optional[tcmodel.resources.run.Run]
    >>> typing.get_type_hints(Task.runs.fget)["return"]
    typing.Tuple[tcmodel.resources.run.Run, ...]
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["expose_models", "expose_resources"]

# The typing forms jedi reads, built at run time (``Any`` keeps mypy out of it).
_Union: Any = typing.Union
_Tuple: Any = typing.Tuple  # noqa: UP006
_List: Any = typing.List  # noqa: UP006
_Dict: Any = typing.Dict  # noqa: UP006
_tuple: Any = tuple
_list: Any = list

#: Builtin types IPython makes instances of itself; their subclasses it cannot.
_BUILTINS = (str, bytes, int, float, dict, list, tuple)
_SHADOWS: dict[type, type] = {}
_NAMESPACE: dict[str, Any] = {}


def _jedi_form(hint: Any) -> Any:
    """``hint`` with PEP 604/585 forms turned into the ``typing`` forms jedi reads."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return _Union[tuple(_jedi_form(a) for a in args)]
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return _Tuple[_jedi_form(args[0]), ...]
        return _Tuple[tuple(_jedi_form(a) for a in args)]
    if origin is list and args:
        return _List[_jedi_form(args[0])]
    if origin is dict and args:
        return _Dict[_jedi_form(args[0]), _jedi_form(args[1])]
    return hint


def _ipython_form(hint: Any) -> Any:
    """``hint`` as IPython's evaluator can complete from: models become their
    shadows, ``X | None`` becomes ``X``, generic user classes their bare class."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) == 1:
            return _ipython_form(kinds[0])
        return _Union[tuple(_ipython_form(a) for a in kinds)]
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return _tuple[_ipython_form(args[0]), ...]
        return _tuple[tuple(_ipython_form(a) for a in args)]
    if origin is list and args:
        return _list[_ipython_form(args[0])]
    if isinstance(origin, type) and (
        origin.__module__.startswith("tcmodel") or origin in _BUILTINS
    ):
        return _ipython_form(origin)  # Listing[Task] -> Listing, dict[str, Any] -> dict
    if isinstance(hint, type) and hint not in _SHADOWS and _slotted_attrs(hint):
        expose_models(hint)  # a value class no module exposed (e.g. Credentials)
    if isinstance(hint, type) and hint in _SHADOWS:
        return _SHADOWS[hint]
    if isinstance(hint, type) and hint not in _BUILTINS and issubclass(hint, _BUILTINS):
        return next(b for b in _BUILTINS if issubclass(hint, b))  # e.g. LogText: a str
    if isinstance(hint, type) and hint.__module__ in ("datetime", "uuid", "decimal"):
        return _builtin_shadow(hint)  # a C type: IPython cannot impersonate it
    return hint


def _slotted_attrs(cls: type) -> bool:
    import attrs

    return attrs.has(cls) and "__slots__" in vars(cls)


@functools.cache
def _builtin_shadow(cls: type) -> type:
    """A plain class offering the public names of the C type ``cls``."""
    names = {n: _placeholder(None) for n in dir(cls) if not n.startswith("_")}
    return type(cls.__name__, (), {"__module__": cls.__module__, "__doc__": cls.__doc__, **names})


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``func``: names imported only for type
    checking are found among tcmodel's own classes."""
    module = sys.modules.get(getattr(func, "__module__", ""), None)
    globalns = {**_NAMESPACE, **(vars(module) if module else {})}
    try:
        return typing.get_type_hints(func, globalns=globalns)
    except Exception:  # an annotation we cannot resolve: leave it as it is
        return {}


def _class_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls`` and its bases (names imported
    only for type checking are found among tcmodel's own classes)."""
    module = sys.modules.get(cls.__module__)
    globalns = {**_NAMESPACE, **(vars(module) if module else {})}
    return typing.get_type_hints(cls, globalns=globalns)


def _annotate_return(func: Callable[..., Any]) -> Any:
    """Replace ``func``'s return annotation with its resolved jedi form, and
    return the resolved hint (``None`` when it has none)."""
    hint = _hints(func).get("return")
    if hint is not None:
        func.__annotations__["return"] = _jedi_form(hint)
    return hint


def _register(classes: Iterable[type]) -> list[type]:
    found = list(classes)
    _NAMESPACE.update({cls.__name__: cls for cls in found})
    return found


def _public_members(cls: type) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):  # object's members are not ours
        for name, value in vars(klass).items():
            if not name.startswith("_"):
                members[name] = value
    return members


def _placeholder(doc: str | None) -> property:
    """A property that IPython will not run (it never runs properties); its
    type comes from the shadow's ``__annotations__``."""
    return property(lambda self: None, doc=doc)


class _Field(property):
    """An attrs slot seen as a property: jedi reads its return annotation,
    while IPython (which looks the attribute up on the class) and every reader
    get the slot's value as before."""

    def __init__(self, member: Any, hint: Any) -> None:
        getter = functools.partial(member.__get__)
        getter.__annotations__ = {"return": _jedi_form(hint)}
        super().__init__(getter, member.__set__, member.__delete__)
        self._member = member

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:  # class access (IPython's check): the slot itself
            return self._member
        return self._member.__get__(obj, objtype)


def expose_models(*classes: type) -> None:
    """Make the attrs model ``classes`` completable by jedi and IPython.

    Example:
        >>> from tcmodel.models import TaskDefinition
        >>> import typing
        >>> typing.get_type_hints(TaskDefinition.__dict__["metadata"].fget)["return"].__name__
        'TaskMetadata'
    """
    import attrs

    found = [cls for cls in _register(classes) if cls not in _SHADOWS]  # once each
    for cls in found:
        hints = _class_hints(cls)
        for field in attrs.fields(cls):
            member = cls.__dict__.get(field.name)
            if member is not None and type(member) is types.MemberDescriptorType:
                setattr(cls, field.name, _Field(member, hints[field.name]))
        for value in vars(cls).values():
            if isinstance(value, property) and not isinstance(value, _Field) and value.fget:
                _annotate_return(value.fget)
    for cls in found:  # every class first, so shadows can point at each other
        _SHADOWS[cls] = type(cls.__name__, (), {"__module__": cls.__module__})
    for cls, shadow in ((c, _SHADOWS[c]) for c in found):
        hints = _class_hints(cls)
        annotations: dict[str, Any] = {}
        for name, value in _public_members(cls).items():
            if name in hints or isinstance(value, property):
                hint = hints.get(name)
                if hint is None and isinstance(value, property) and value.fget:
                    hint = _hints(value.fget).get("return")
                setattr(shadow, name, _placeholder(getattr(value, "__doc__", None)))
                if hint is not None:
                    annotations[name] = _ipython_form(hint)
            elif inspect.isfunction(value):
                setattr(shadow, name, value)
        shadow.__annotations__ = annotations
        shadow.__doc__ = cls.__doc__


def expose_resources(*classes: type, models: Iterable[type] = ()) -> None:
    """Resolve the property and method annotations of the resource ``classes``
    for jedi, and publish the properties' types in each class's
    ``__annotations__`` for IPython's evaluator. ``models`` are value classes
    that refer to the resources (exposed as :func:`expose_models` does, once
    the resources' names are known).

    Example:
        >>> from tcmodel.resources import Task
        >>> Task.__annotations__["latest_run"].__name__
        'Run'
    """
    found = _register(classes)
    expose_models(*models)
    for cls in found:
        annotations = dict(inspect.get_annotations(cls))
        for name, value in vars(cls).items():
            if isinstance(value, property) and value.fget is not None:
                hint = _annotate_return(value.fget)
                if hint is not None and not name.startswith("_"):
                    annotations[name] = _ipython_form(hint)
            elif isinstance(value, (staticmethod, classmethod)):
                _annotate_return(value.__func__)
            elif inspect.isfunction(value) and not name.startswith("_"):
                # jedi reads a method's annotation from the source; IPython
                # reads the live one, and needs a class it can impersonate.
                hint = _hints(value).get("return")
                if hint is not None:
                    value.__annotations__["return"] = _ipython_form(hint)
        cls.__annotations__ = annotations
