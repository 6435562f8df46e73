"""Taskcluster scopes: matching, and filling the scope expressions of API entries.

A *scope* is a printable-ASCII string. A set of assumed scopes *satisfies* a
required scope ``s`` when it holds ``s`` itself or some ``p*`` where ``p`` is
a prefix of ``s``. A ``*`` is special only as the last character of an
assumed scope; in a required scope it is an ordinary character.

Example:
    >>> satisfies(["queue:get-artifact:public/*"], "queue:get-artifact:public/x.log")
    True
    >>> scope_match(["a:b"], [["a:b", "c:d"], ["a:*"]])
    False
    >>> expr = {"AnyOf": ["queue:status:<taskId>", "queue:admin"]}
    >>> filled = fill_expression(expr, {"taskId": "Dx4tPEtaRpeIeWpbTD0uHw"})
    >>> filled
    {'AnyOf': ['queue:status:Dx4tPEtaRpeIeWpbTD0uHw', 'queue:admin']}
    >>> satisfies_expression(["queue:status:*"], filled)
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeAlias

import attrs

from tcmodel.api import ScopeExpression

__all__ = [
    "ScopeSet",
    "Scopes",
    "fill_expression",
    "missing_scopes",
    "satisfies",
    "satisfies_expression",
    "scope_match",
    "validate_scope",
]

_PLACEHOLDER = re.compile(r"<([^<>]+)>")


def validate_scope(scope: object) -> str:
    """Return ``scope`` if it is a valid scope: a string of printable ASCII
    (``0x20``–``0x7E``); raise ``ValueError`` showing the bad character otherwise.

    The empty string is a valid scope.

    Example:
        >>> validate_scope("queue:create-task:highest:proj/*")
        'queue:create-task:highest:proj/*'
        >>> validate_scope("a:\\t")
        Traceback (most recent call last):
        ...
        ValueError: invalid scope 'a:\\t': character '\\t' at index 2 is not printable ASCII
    """
    scope = _require_str(scope, "a scope")
    if not (scope.isascii() and scope.isprintable()):
        index, char = next((i, c) for i, c in enumerate(scope) if not " " <= c <= "~")
        raise ValueError(
            f"invalid scope {scope!r}: character {char!r} at index {index} is not printable ASCII"
        )
    return scope


def _require_str(scope: object, what: str) -> str:
    if not isinstance(scope, str):
        raise ValueError(f"{what} must be a string, not {type(scope).__name__}: {scope!r}")
    return scope


def _check_assumed(scopes: Iterable[str]) -> tuple[str, ...]:
    if isinstance(scopes, (str, bytes)):
        raise ValueError(
            f"assumed scopes must be an iterable of strings, not one string: {scopes!r}"
        )
    return tuple(dict.fromkeys(_require_str(s, "an assumed scope") for s in scopes))


@attrs.frozen
class ScopeSet:
    """A set of assumed scopes, prepared once for fast :meth:`satisfies` checks.

    Build it from any iterable of scope strings. Every function of this module
    that takes assumed scopes also accepts a :class:`ScopeSet`.

    Example:
        >>> owner = ScopeSet(["queue:get-artifact:public/*", "queue:status:*", "a:b"])
        >>> owner.satisfies("queue:status:Dx4tPEtaRpeIeWpbTD0uHw")
        True
        >>> owner.satisfies("a:bc")
        False
    """

    #: The assumed scopes, as given (without duplicates, order kept).
    scopes: tuple[str, ...] = attrs.field(converter=_check_assumed)
    _exact: frozenset[str] = attrs.field(init=False, repr=False, eq=False)
    _prefixes: tuple[str, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        scopes = self.scopes
        object.__setattr__(self, "_exact", frozenset(scopes))
        # Keep only the shortest star-prefixes: in sorted order a prefix comes
        # right before everything it covers, so comparing with the last kept
        # one is enough.
        kept: list[str] = []
        for prefix in sorted({s[:-1] for s in scopes if s.endswith("*")}):
            if not kept or not prefix.startswith(kept[-1]):
                kept.append(prefix)
        object.__setattr__(self, "_prefixes", tuple(kept))

    @classmethod
    def of(cls, scopes: Scopes) -> ScopeSet:
        """Return ``scopes`` if it is a :class:`ScopeSet`, else build one.

        Sets built from a tuple or frozenset are cached, so passing the same
        tuple of scopes again (as the local cluster does for each request of
        a client) does not prepare them again.

        Example:
            >>> ScopeSet.of(("a:*",)) is ScopeSet.of(("a:*",))
            True
        """
        if isinstance(scopes, ScopeSet):
            return scopes
        if isinstance(scopes, (tuple, frozenset)):
            try:
                return _cached_scope_set(scopes)
            except TypeError:  # unhashable members: let the converter explain
                pass
        return cls(scopes)

    def satisfies(self, scope: str) -> bool:
        """Whether this set satisfies the required ``scope``.

        Example:
            >>> ScopeSet(["a:**"]).satisfies("a:*"), ScopeSet(["a:**"]).satisfies("a:b")
            (True, False)
        """
        try:
            return scope in self._exact or scope.startswith(self._prefixes)
        except (TypeError, AttributeError):
            _require_str(scope, "a required scope")
            raise

    def satisfies_all(self, scopes: Iterable[str]) -> bool:
        """Whether this set satisfies every scope of ``scopes``.

        Example:
            >>> ScopeSet(["a:*"]).satisfies_all(["a:b", "a:c"])
            True
        """
        return all(self.satisfies(s) for s in _check_required_set(scopes))


#: Assumed scopes: any iterable of scope strings, or a prepared :class:`ScopeSet`.
Scopes: TypeAlias = Iterable[str] | ScopeSet


@lru_cache(maxsize=512)
def _cached_scope_set(scopes: tuple[str, ...] | frozenset[str]) -> ScopeSet:
    return ScopeSet(scopes)


def _check_required_set(scopes: Iterable[str]) -> Iterable[str]:
    if isinstance(scopes, (str, bytes)) or not isinstance(scopes, Iterable):
        raise ValueError(f"a set of required scopes must be a list of strings, not {scopes!r}")
    return scopes


def satisfies(assumed: Scopes, scope: str) -> bool:
    """Whether the ``assumed`` scopes satisfy the required ``scope``.

    Example:
        >>> satisfies(["a:*"], "a:b"), satisfies(["a:*"], "a")
        (True, False)
        >>> satisfies(["a:b"], "a:b*")  # a star in a required scope is literal
        False
    """
    return ScopeSet.of(assumed).satisfies(scope)


def scope_match(assumed: Scopes, required_sets: Sequence[Sequence[str]]) -> bool:
    """Whether ``assumed`` satisfies ``required_sets``, a disjunctive normal
    form: a list of alternatives, each a list of scopes that are all needed.

    ``[[]]`` is always satisfied and ``[]`` never is, as with the official
    Python client's ``scopeMatch``.

    Example:
        >>> scope_match(["c:d"], [["a:b", "x"], ["c:d"]])
        True
        >>> scope_match(["a:b"], [[]]), scope_match(["a:b"], [])
        (True, False)
    """
    owned = ScopeSet.of(assumed)
    if isinstance(required_sets, (str, bytes)) or not isinstance(required_sets, Iterable):
        raise ValueError(f"required scope sets must be a list of lists, not {required_sets!r}")
    return any(owned.satisfies_all(group) for group in required_sets)


def _lookup(params: Mapping[str, Any], name: str, where: object) -> Any:
    value = params.get(name)
    if value is None:
        raise KeyError(f"scope expression {where!r} needs the parameter {name!r}")
    return value


def _fill_string(template: str, params: Mapping[str, Any]) -> str:
    if "<" not in template:
        return template

    def replace(m: re.Match[str]) -> str:
        value = _lookup(params, m.group(1), template)
        if isinstance(value, (list, tuple, dict, set, frozenset)):
            raise ValueError(
                f"parameter {m.group(1)!r} of scope {template!r} must be a single value, "
                f"not {value!r}"
            )
        return value if isinstance(value, str) else str(value)

    return _PLACEHOLDER.sub(replace, template)


def _fill_items(expr: object, params: Mapping[str, Any]) -> list[ScopeExpression]:
    """Fill ``expr``; a ``for`` gives any number of items and an ``if``
    without ``else`` whose condition is false gives none."""
    if isinstance(expr, str):
        return [_fill_string(expr, params)]
    if not isinstance(expr, dict):
        raise ValueError(f"a scope expression must be a string or a dict, not {expr!r}")
    keys = expr.keys()
    if keys == {"AllOf"} or keys == {"AnyOf"}:
        (op,) = keys
        children = expr[op]
        if not isinstance(children, list):
            raise ValueError(f"{op} must hold a list of scope expressions, not {children!r}")
        return [{op: [item for child in children for item in _fill_items(child, params)]}]
    if keys == {"for", "in", "each"}:
        var, source = expr["for"], expr["in"]
        if not isinstance(var, str) or not isinstance(source, str):
            raise ValueError(f"'for' and 'in' must name parameters in {expr!r}")
        values = _lookup(params, source, expr)
        if not isinstance(values, (list, tuple)):
            raise ValueError(
                f"parameter {source!r} ('in' of {expr!r}) must be a list, not {values!r}"
            )
        return [
            item for value in values for item in _fill_items(expr["each"], {**params, var: value})
        ]
    if keys == {"if", "then"} or keys == {"if", "then", "else"}:
        condition = expr["if"]
        if not isinstance(condition, str):
            raise ValueError(f"'if' must name a parameter in {expr!r}")
        if condition not in params:
            raise KeyError(f"scope expression {expr!r} needs the parameter {condition!r}")
        if params[condition]:
            return _fill_items(expr["then"], params)
        return _fill_items(expr["else"], params) if "else" in expr else []
    raise ValueError(
        f"unknown scope expression {expr!r}: expected a string or a dict with the keys "
        "AllOf, AnyOf, for/in/each or if/then[/else]"
    )


def fill_expression(expr: ScopeExpression, params: Mapping[str, Any]) -> ScopeExpression:
    """Fill a scope expression as written in an API reference with ``params``.

    ``<name>`` placeholders are replaced by ``str(params[name])``;
    ``{"for": "x", "in": "xs", "each": e}`` is replaced, inside its
    ``AllOf``/``AnyOf``, by ``e`` filled once for each item ``x`` of the list
    ``params["xs"]``; ``{"if": "p", "then": a, "else": b}`` becomes ``a`` if
    ``params["p"]`` is truthy, else ``b`` (or nothing when there is no
    ``else``). The result holds only strings and ``AllOf``/``AnyOf`` dicts; a
    top-level template that gives other than exactly one expression is
    wrapped in ``AllOf``.

    A missing parameter (or ``None`` for a placeholder) raises ``KeyError``
    naming it;
    a malformed expression or a non-list ``in`` parameter raises ``ValueError``.

    Example:
        >>> from tcmodel.api import endpoint
        >>> fill_expression(endpoint("queue", "getArtifact").scopes, {"names": ["public/a"]})
        {'AllOf': ['queue:get-artifact:public/a']}
        >>> fill_expression({"if": "private", "then": "x:<n>", "else": "y"},
        ...                 {"private": True, "n": 3})
        'x:3'
        >>> fill_expression("queue:get-task:<taskId>", {})
        Traceback (most recent call last):
        ...
        KeyError: "scope expression 'queue:get-task:<taskId>' needs the parameter 'taskId'"
    """
    items = _fill_items(expr, params)
    return items[0] if len(items) == 1 else {"AllOf": items}


def _filled_children(expr: Mapping[str, Any]) -> tuple[bool, list[Any]]:
    """``(is_all_of, children)`` of a filled ``AllOf``/``AnyOf`` dict."""
    if isinstance(expr, dict) and len(expr) == 1:
        if "AllOf" in expr and isinstance(expr["AllOf"], list):
            return True, expr["AllOf"]
        if "AnyOf" in expr and isinstance(expr["AnyOf"], list):
            return False, expr["AnyOf"]
    raise ValueError(
        f"not a filled scope expression: {expr!r} (expected a string or a single "
        "AllOf/AnyOf list; fill templates with fill_expression first)"
    )


def _evaluate(owned: ScopeSet, expr: object) -> bool:
    if isinstance(expr, str):
        return owned.satisfies(expr)
    if not isinstance(expr, dict):
        raise ValueError(f"a scope expression must be a string or a dict, not {expr!r}")
    all_of, children = _filled_children(expr)
    if all_of:
        return all(_evaluate(owned, child) for child in children)
    return any(_evaluate(owned, child) for child in children)


def satisfies_expression(assumed: Scopes, expr: ScopeExpression) -> bool:
    """Whether ``assumed`` satisfies a filled scope expression: a string must
    be satisfied, ``{"AllOf": [...]}`` needs every member (true when empty)
    and ``{"AnyOf": [...]}`` needs one (false when empty).

    Example:
        >>> satisfies_expression(["b:*"], {"AnyOf": ["a:x", {"AllOf": ["b:1", "b:2"]}]})
        True
        >>> satisfies_expression([], {"AllOf": []}), satisfies_expression([], {"AnyOf": []})
        (True, False)
    """
    return _evaluate(ScopeSet.of(assumed), expr)


def _missing(owned: ScopeSet, expr: object) -> ScopeExpression | None:
    if isinstance(expr, str):
        return None if owned.satisfies(expr) else expr
    if not isinstance(expr, dict):
        raise ValueError(f"a scope expression must be a string or a dict, not {expr!r}")
    all_of, children = _filled_children(expr)
    if all_of:
        rest = [m for m in (_missing(owned, c) for c in children) if m is not None]
        if not rest:
            return None
        return rest[0] if len(rest) == 1 else {"AllOf": rest}
    if not children:
        return {"AnyOf": []}
    options: list[ScopeExpression] = []
    for child in children:
        missing = _missing(owned, child)
        if missing is None:
            return None
        options.append(missing)
    return options[0] if len(options) == 1 else {"AnyOf": options}


def missing_scopes(assumed: Scopes, expr: ScopeExpression) -> ScopeExpression | None:
    """The part of a filled expression that ``assumed`` does not satisfy,
    or ``None`` if it satisfies all of it. Satisfied members are left out and
    one-member ``AllOf``/``AnyOf`` are unwrapped, for error messages.

    Example:
        >>> missing_scopes(["a:*"], {"AllOf": ["a:1", "b:1", {"AnyOf": ["c", "a:2"]}]})
        'b:1'
        >>> missing_scopes(["a:*"], {"AllOf": ["a:1"]}) is None
        True
    """
    return _missing(ScopeSet.of(assumed), expr)
