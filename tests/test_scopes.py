"""Tests of tcmodel.scopes against the official client's vectors and its scopeMatch."""

from __future__ import annotations

import random
from typing import Any

import pytest
from schemas import vectors

from tcmodel.api import endpoint
from tcmodel.scopes import (
    ScopeSet,
    fill_expression,
    missing_scopes,
    satisfies,
    satisfies_expression,
    scope_match,
    validate_scope,
)


def _scope_cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{i}-{case['assumedScopes']}-{case['requiredScopeSets']}")
        for i, case in enumerate(vectors()["scopeMatch"])
    ]


def test_there_are_23_scope_vectors() -> None:
    assert len(vectors()["scopeMatch"]) == 23


@pytest.mark.parametrize("case", _scope_cases())
def test_scope_match_vectors(case: dict[str, Any]) -> None:
    assumed, required = case["assumedScopes"], case["requiredScopeSets"]
    assert scope_match(assumed, required) is case["result"]
    assert scope_match(ScopeSet(assumed), required) is case["result"]
    assert scope_match(tuple(assumed), required) is case["result"]
    # The same question as an expression, as the server (lib-scopes) asks it.
    expr = {"AnyOf": [{"AllOf": group} for group in required]}
    assert satisfies_expression(assumed, expr) is case["taskclusterLibScopes11"]


@pytest.mark.parametrize("case", _scope_cases())
def test_satisfies_vectors_with_one_required_scope(case: dict[str, Any]) -> None:
    required = case["requiredScopeSets"]
    if len(required) == 1 and len(required[0]) == 1:
        assert satisfies(case["assumedScopes"], required[0][0]) is case["result"]


def _random_scope(rng: random.Random) -> str:
    return "".join(rng.choice("ab:*") for _ in range(rng.randint(0, 4)))


def test_scope_match_agrees_with_official_client() -> None:
    from taskcluster.utils import scopeMatch

    rng = random.Random(20240131)
    trues = 0
    for _ in range(600):
        assumed = [_random_scope(rng) for _ in range(rng.randint(0, 4))]
        required = [
            [_random_scope(rng) for _ in range(rng.randint(0, 3))] for _ in range(rng.randint(0, 3))
        ]
        expected = scopeMatch(assumed, required)
        assert scope_match(assumed, required) is expected, (assumed, required)
        assert scope_match(ScopeSet(assumed), required) is expected, (assumed, required)
        trues += expected
    assert 100 < trues < 500  # both outcomes are well exercised


def test_scope_set_keeps_only_shortest_prefixes_but_answers_the_same() -> None:
    owned = ScopeSet(["a:b*", "a:*", "a:bc*", "b*", "a:b*", "x"])
    assert owned.scopes == ("a:b*", "a:*", "a:bc*", "b*", "x")
    assert owned._prefixes == ("a:", "b")
    rng = random.Random(7)
    for _ in range(300):
        assumed = [_random_scope(rng) for _ in range(rng.randint(0, 6))]
        scope = _random_scope(rng)
        naive = any(s == scope or (s.endswith("*") and scope.startswith(s[:-1])) for s in assumed)
        assert ScopeSet(assumed).satisfies(scope) is naive, (assumed, scope)


def test_scope_set_of_caches_tuples_and_passes_sets_through() -> None:
    owned = ScopeSet(["a:*"])
    assert ScopeSet.of(owned) is owned
    assert ScopeSet.of(("q:*", "r")) is ScopeSet.of(("q:*", "r"))
    assert ScopeSet.of(["q:*"]).satisfies("q:x")


@pytest.mark.parametrize(
    ("assumed", "scope", "expected"),
    [
        (["a:**"], "a:*", True),
        (["a:**"], "a:b", False),
        (["a:b"], "a:b*", False),
        (["a:*:c"], "a:b:c", False),
        (["a:*:c"], "a:*:c", True),
        (["*"], "", True),
        ([], "", False),
        (["A:*"], "a:b", False),
    ],
)
def test_satisfies_edge_cases(assumed: list[str], scope: str, expected: bool) -> None:
    assert satisfies(assumed, scope) is expected


_BAD_CALLS: list[tuple[Any, tuple[Any, ...], str]] = [
    (scope_match, ("a:b", [["a:b"]]), "'a:b'"),
    (scope_match, (["a:b"], "a:b"), "'a:b'"),
    (scope_match, (["a:b"], ["a:b"]), "'a:b'"),
    (scope_match, (["a:b"], [[1]]), "1"),
    (satisfies, (["a:b", 7], "a:b"), "7"),
    (satisfies, (["a:*"], None), "None"),
    (satisfies, (["a:*"], b"a:b"), "b'a:b'"),
    (satisfies_expression, (["a"], {"AllOf": "a"}), "'AllOf': 'a'"),
    (satisfies_expression, (["a"], {"for": "x", "in": "y", "each": "z"}), "'for'"),
    (satisfies_expression, (["a"], {"AllOf": [3]}), "3"),
    (missing_scopes, (["a"], {"Any": []}), "'Any'"),
]


@pytest.mark.parametrize(("func", "args", "shown"), _BAD_CALLS)
def test_malformed_input_raises_value_error_showing_it(
    func: Any, args: tuple[Any, ...], shown: str
) -> None:
    with pytest.raises(ValueError) as info:
        func(*args)
    assert shown in str(info.value)


def test_validate_scope() -> None:
    assert validate_scope("") == ""
    assert validate_scope("queue:route:index.*") == "queue:route:index.*"
    for bad, char in [("a:\n", "'\\n'"), ("a:café", "'é'"), ("\x7f", "'\\x7f'")]:
        with pytest.raises(ValueError, match="not printable ASCII") as info:
            validate_scope(bad)
        assert char in str(info.value)
    with pytest.raises(ValueError, match="not int"):
        validate_scope(5)


CREATE_PARAMS: dict[str, Any] = {
    "taskId": "Dx4tPEtaRpeIeWpbTD0uHw",
    "scopes": ["secrets:get:proj/a", "queue:get-artifact:private/*"],
    "routes": ["index.proj.latest", "notify.email.x@y.z.on-failed"],
    "projectId": "proj",
    "schedulerId": "taskcluster-ui",
    "priorities": ["lowest", "very-low", "low"],
    "provisionerId": "proj-provisioner",
    "workerType": "linux",
}


def test_fill_create_task_expression() -> None:
    filled = fill_expression(endpoint("queue", "createTask").scopes or "", CREATE_PARAMS)
    assert filled == {
        "AllOf": [
            "secrets:get:proj/a",
            "queue:get-artifact:private/*",
            "queue:route:index.proj.latest",
            "queue:route:notify.email.x@y.z.on-failed",
            "queue:create-task:project:proj",
            "queue:scheduler-id:taskcluster-ui",
            {
                "AnyOf": [
                    "queue:create-task:lowest:proj-provisioner/linux",
                    "queue:create-task:very-low:proj-provisioner/linux",
                    "queue:create-task:low:proj-provisioner/linux",
                ]
            },
        ]
    }
    enough = [
        "secrets:get:proj/*",
        "queue:get-artifact:private/*",
        "queue:route:index.proj.*",
        "queue:route:notify.email.*",
        "queue:create-task:project:proj",
        "queue:scheduler-id:taskcluster-ui",
        "queue:create-task:low:proj-provisioner/*",
    ]
    assert satisfies_expression(enough, filled)
    for dropped in enough:
        fewer = [s for s in enough if s != dropped]
        assert not satisfies_expression(fewer, filled), dropped
        assert missing_scopes(fewer, filled) is not None
    # A scope the task asks for must be held as such: "...private/x" does not give "...private/*".
    assert not satisfies_expression(
        [*enough[:1], "queue:get-artifact:private/x", *enough[2:]], filled
    )
    assert missing_scopes(enough[1:], filled) == "secrets:get:proj/a"
    assert missing_scopes(enough[:-1], filled) == {
        "AnyOf": [
            "queue:create-task:lowest:proj-provisioner/linux",
            "queue:create-task:very-low:proj-provisioner/linux",
            "queue:create-task:low:proj-provisioner/linux",
        ]
    }


def test_fill_create_task_with_no_scopes_or_routes() -> None:
    params = {**CREATE_PARAMS, "scopes": [], "routes": []}
    filled = fill_expression(endpoint("queue", "createTask").scopes or "", params)
    assert isinstance(filled, dict)
    assert filled["AllOf"][:2] == [
        "queue:create-task:project:proj",
        "queue:scheduler-id:taskcluster-ui",
    ]
    assert len(filled["AllOf"]) == 3


def test_fill_schedule_task_expression() -> None:
    params = {
        "taskId": "Dx4tPEtaRpeIeWpbTD0uHw",
        "taskGroupId": "XDqefRsvTG6ajX5vWks8LQ",
        "schedulerId": "sched",
        "projectId": "proj",
    }
    filled = fill_expression(endpoint("queue", "scheduleTask").scopes or "", params)
    assert filled == {
        "AnyOf": [
            "queue:schedule-task:sched/XDqefRsvTG6ajX5vWks8LQ/Dx4tPEtaRpeIeWpbTD0uHw",
            "queue:schedule-task-in-project:proj",
            {"AllOf": ["queue:schedule-task", "assume:scheduler-id:sched/XDqefRsvTG6ajX5vWks8LQ"]},
        ]
    }
    assert satisfies_expression(["queue:schedule-task:sched/*"], filled)
    assert satisfies_expression(["queue:schedule-task-in-project:proj"], filled)
    assert satisfies_expression(["queue:schedule-task", "assume:scheduler-id:sched/*"], filled)
    assert not satisfies_expression(["queue:schedule-task"], filled)
    assert not satisfies_expression(["queue:schedule-task:other/*"], filled)


def test_fill_get_artifact_expression() -> None:
    expr = endpoint("queue", "getArtifact").scopes or ""
    filled = fill_expression(expr, {"taskId": "t", "runId": 0, "names": ["private/a b"]})
    assert filled == {"AllOf": ["queue:get-artifact:private/a b"]}
    assert satisfies_expression(["queue:get-artifact:private/*"], filled)
    assert not satisfies_expression(["queue:get-artifact:public/*"], filled)
    # Placeholders are filled once: a value that looks like a placeholder stays as it is.
    filled = fill_expression(expr, {"names": ["<name>"]})
    assert filled == {"AllOf": ["queue:get-artifact:<name>"]}


def test_fill_expression_str_s_non_string_params() -> None:
    assert fill_expression("queue:reclaim-task:<taskId>/<runId>", {"taskId": "t", "runId": 2}) == (
        "queue:reclaim-task:t/2"
    )


def test_fill_if_then_else() -> None:
    expr = {"AllOf": ["a", {"if": "private", "then": "b:<n>", "else": {"AnyOf": ["c", "d"]}}]}
    assert fill_expression(expr, {"private": True, "n": "x"}) == {"AllOf": ["a", "b:x"]}
    assert fill_expression(expr, {"private": 0}) == {"AllOf": ["a", {"AnyOf": ["c", "d"]}]}
    no_else = {"AnyOf": ["a", {"if": "private", "then": "b"}]}
    assert fill_expression(no_else, {"private": False}) == {"AnyOf": ["a"]}
    assert fill_expression({"if": "p", "then": "b"}, {"p": []}) == {"AllOf": []}


def test_fill_for_each_at_top_level_and_nested() -> None:
    top = {"for": "x", "in": "xs", "each": "s:<x>"}
    assert fill_expression(top, {"xs": ["1", "2"]}) == {"AllOf": ["s:1", "s:2"]}
    nested = {
        "AnyOf": [
            {
                "for": "x",
                "in": "xs",
                "each": {"AllOf": [{"for": "y", "in": "ys", "each": "<x>:<y>"}]},
            }
        ]
    }
    assert fill_expression(nested, {"xs": ["a", "b"], "ys": ("1", "2")}) == {
        "AnyOf": [{"AllOf": ["a:1", "a:2"]}, {"AllOf": ["b:1", "b:2"]}]
    }


@pytest.mark.parametrize(
    ("expr", "params", "name"),
    [
        ("queue:get-task:<taskId>", {}, "'taskId'"),
        ("queue:get-task:<taskId>", {"taskId": None}, "'taskId'"),
        ({"AllOf": [{"for": "x", "in": "xs", "each": "s:<x>"}]}, {}, "'xs'"),
        ({"AllOf": [{"for": "x", "in": "xs", "each": "s:<y>"}]}, {"xs": ["1"]}, "'y'"),
        ({"if": "p", "then": "a"}, {}, "'p'"),
    ],
)
def test_fill_missing_param_raises_key_error_naming_it(
    expr: Any, params: dict[str, Any], name: str
) -> None:
    with pytest.raises(KeyError) as info:  # untyped ok: a template helper
        fill_expression(expr, params)
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("expr", "params", "shown"),
    [
        ({"AllOf": [{"for": "x", "in": "xs", "each": "s:<x>"}]}, {"xs": "abc"}, "'abc'"),
        ({"AllOf": [{"for": "x", "in": "xs", "each": "s:<x>"}]}, {"xs": 3}, "must be a list"),
        ({"AllOf": ["a"], "AnyOf": ["b"]}, {}, "unknown scope expression"),
        ({"Allof": ["a"]}, {}, "'Allof'"),
        ({"AllOf": "a"}, {}, "'a'"),
        ({"for": "x", "in": "xs"}, {"xs": []}, "'for'"),
        ({"if": 1, "then": "a"}, {}, "'if'"),
        ({"for": 1, "in": "xs", "each": "a"}, {"xs": []}, "'for'"),
        (["a"], {}, "['a']"),
        ("s:<x>", {"x": ["1"]}, "['1']"),
    ],
)
def test_fill_malformed_raises_value_error_showing_it(
    expr: Any, params: dict[str, Any], shown: str
) -> None:
    with pytest.raises(ValueError) as info:
        fill_expression(expr, params)
    assert shown in str(info.value)


def test_satisfies_expression_empty_and_nested() -> None:
    assert satisfies_expression([], {"AllOf": []})
    assert not satisfies_expression(["*"], {"AnyOf": []})
    assert satisfies_expression(["a"], "a")
    assert not satisfies_expression(["a"], "b")
    expr = {"AllOf": ["a", {"AnyOf": ["b", {"AllOf": ["c", "d"]}]}]}
    assert satisfies_expression(["a", "c", "d"], expr)
    assert not satisfies_expression(["a", "c"], expr)
    assert missing_scopes(["a", "c"], expr) == {"AnyOf": ["b", "d"]}
    assert missing_scopes([], {"AnyOf": []}) == {"AnyOf": []}
    assert missing_scopes(["*"], expr) is None
