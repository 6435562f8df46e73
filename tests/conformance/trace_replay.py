"""Replay the recorded exchanges of the real Taskcluster services (v106)
against one local cluster, and compare the answers.

The trace file (``../shared/taskcluster/traces/real-v106.jsonl``, read from
the shared checkout, never copied here) holds 580 request/answer pairs,
normalized: ids are placeholders (``<taskId:N>``, ``<slug:N>``…), dates are
``<date>``, credentials ``<redacted>``, the recording's run prefix ``<run>``.

:class:`Replayer` turns each case back into a real request:

- a placeholder first seen in a request gets a fresh value (a new slugId);
  one first seen in an answer is *learned* from our answer (task ids of
  tasks the queue hands out, continuation tokens, upload ids);
- ``<date>`` in a request body gets a value that fits what the case tests
  (:data:`DATES`), computed from the cluster clock;
- the ``auth`` label says which credentials sign the request;
- a few cases act on things the recording made without recording the
  request (tasks of a sealed group, tasks a worker claims, hooks); the
  :data:`SETUP` steps make them through the API first.

Then the answer is compared with the recorded one (:func:`compare`): status,
error ``code``, JSON structure, every value the normalized trace fixes,
``content-type`` and the shape of ``location`` / ``www-authenticate``. Error
messages are the local cluster's own words: only the facts the recorded
message names (placeholders, missing scopes) must appear in ours.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import mohawk
import slugid
from schemas import SHARED

from tcmodel.credentials import Credentials, create_temporary_credentials
from tcmodel.hawk import HawkAuth, sign_url
from tcmodel.testing import LocalCluster
from tcmodel.testing._core import iso

TRACES = SHARED / "traces"  # ../shared/taskcluster, or $TCMODEL_SHARED_DIR
TRACE_FILE = TRACES / "real-v106.jsonl"

_PLACEHOLDER = re.compile(r"<(taskId|taskGroupId|slug|continuationToken):(\d+)>")
_TOKEN = re.compile(
    r"<(taskId|taskGroupId|slug|continuationToken):\d+>|<date>|<epoch>|<uuid>"
    r"|<redacted>|<run>|<root>|<s3>|<varies>"
)
_DATE_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
_SLUG_RE = r"[A-Za-z0-9_-]{22}"

DAY = 86400.0

#: Cases the local cluster deliberately answers differently: they depend on
#: what the recording deployment had configured (cloud accounts, Sentry,
#: websocktunnel, Matrix, its version.json). Marked xfail(strict): they
#: still run, and the mark fails if they ever start to match.
DEPLOYMENT_SPECIFIC: dict[str, str] = {
    "queue.version": "the recording deployment's version.json (version 'dev', no commit); "
    "the local cluster reports its own version",
    "auth.client/root": "the root client's description is the recording deployment's "
    "static-client configuration text",
    "auth.client/anonymous": "the root client's description is the recording deployment's "
    "static-client configuration text",
}
#: The only answer fields a marked case may differ in: any other problem
#: fails it even though it is marked.
DEPLOYMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "queue.version": ("version", "commit", "source", "build"),
    "auth.client/root": ("description",),
    "auth.client/anonymous": ("description",),
}


def unexpected(outcome: Outcome) -> list[str]:
    """The problems of a marked case that its mark does not explain."""
    allowed = tuple(f"body.{f}:" for f in DEPLOYMENT_FIELDS.get(outcome.case, ()))
    return [p for p in outcome.problems if not p.startswith(allowed)]


def load_cases(path: Path = TRACE_FILE) -> list[dict[str, Any]]:
    """The recorded cases, in file order."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# empty without ../shared: test_replay.py then skips (fails under CI), see tests/schemas.py
CASES = load_cases() if TRACE_FILE.exists() else []
#: Every replayer of the session (the summary line reads the last one).
REPLAYS: list[Replayer] = []


def summary_line() -> str | None:
    """``trace replay: N passed, M marked, K failed — queue a/b, …`` for the
    cases replayed in this session (``None`` if none were)."""
    if not REPLAYS or not REPLAYS[-1].outcomes:
        return None
    per: dict[str, dict[str, int]] = {}
    for o in REPLAYS[-1].outcomes:
        marked = o.case in DEPLOYMENT_SPECIFIC and not unexpected(o)
        # a marked case that matches is a failure too: its mark is stale
        kind = "marked" if marked and not o.ok else "passed" if o.ok and not marked else "failed"
        counts = per.setdefault(o.service, {"passed": 0, "marked": 0, "failed": 0})
        counts[kind] += 1
    total = {k: sum(c[k] for c in per.values()) for k in ("passed", "marked", "failed")}
    parts = ", ".join(
        f"{svc} {c['passed']}/{sum(c.values())}"
        + (f" ({c['marked']} marked)" if c["marked"] else "")
        + (f" ({c['failed']} failed)" if c["failed"] else "")
        for svc, c in per.items()
    )
    return (
        f"trace replay: {total['passed']} passed, {total['marked']} marked, "
        f"{total['failed']} failed — {parts}"
    )


# -- dates of request bodies -------------------------------------------------

#: ``<date>`` values of request bodies, as offsets (seconds) from the replay's
#: start time ``t0`` ("now" for the background cases, which run after the
#: clock moved): by case, then by field; the default by field.
DATE_FIELDS: dict[str, float] = {
    "created": 0.0,
    "deadline": DAY,
    "expires": 30 * DAY,
    "quarantineUntil": DAY,
    "until": DAY,
    "since": -3600.0,
}
ARTIFACT_EXPIRES = 7 * DAY
DATES: dict[str, dict[str, float]] = {
    "queue.createTask/deadline-over-5-days": {"deadline": 6 * DAY},
    "queue.createTask/deadline-in-past": {"created": -600.0, "deadline": -60.0},
    "queue.createTask/created-too-old": {"created": -3600.0},
    "queue.createTask/created-in-future": {"created": 3600.0, "deadline": 2 * DAY},
    "queue.createTask/deadline-before-created": {"created": 600.0, "deadline": 300.0},
    "queue.createTask/expires-before-deadline": {"expires": 3600.0},
    "queue.createArtifact/duplicate-shorter-expires": {"expires": 6 * DAY},
    "queue.createArtifact/expires-after-task": {"expires": 60 * DAY},
    "queue.createArtifact/expires-in-past": {"expires": -DAY},
    "index.insertTask/expires-in-past": {"expires": -DAY},
    "secrets.set/expired": {"expires": -DAY},
    "purge-cache.purgeRequests/since-future": {"since": 3600.0},
    "purge-cache.purgeRequests/since-past": {"since": -3600.0},
    "queue.createTask/short-deadline": {"deadline": 6.0},
    "queue.createArtifact/expires-soon": {"expires": 6.0},
    "queue.createArtifact/after-deadline-exceeded": {"expires": 7 * DAY},
    "queue.quarantineWorker/lift": {"quarantineUntil": 0.0},
}
#: Cases whose dates count from the cluster's current time rather than t0.
LIVE_DATES = frozenset(
    {
        "queue.createTask/short-deadline",
        "queue.createArtifact/expires-soon",
        "queue.createArtifact/after-deadline-exceeded",
        "queue.quarantineWorker/ok",
        "queue.quarantineWorker/lift",
        "purge-cache.purgeRequests/since-future",
        "purge-cache.purgeRequests/since-past",
    }
)


def _artifact_case(case: dict[str, Any]) -> bool:
    return case["entry"] in ("createArtifact", "createUpload")


# -- results -----------------------------------------------------------------


@dataclass
class Outcome:
    """What replaying one case gave: ``problems`` is empty when it matched."""

    case: str
    service: str
    problems: list[str] = field(default_factory=list)
    status: int = 0
    answer: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


class ReplayError(Exception):
    """A case could not even be sent (a setup step failed, say)."""


# -- the replayer ------------------------------------------------------------


class Replayer:
    """Runs the cases in order against ``lc`` and keeps what they taught."""

    def __init__(self, lc: LocalCluster, cases: list[dict[str, Any]]) -> None:
        self.lc = lc
        self.cases = cases
        self.outcomes: list[Outcome] = []
        self.run = "r" + secrets.token_hex(3)
        self.values: dict[str, str] = {}  # "<taskId:1>" -> real value
        self.t0 = lc.clock.now()
        self.http = httpx.Client(timeout=30, follow_redirects=False)
        self.root = lc.root_credentials
        self.scoped: dict[str, Credentials] = {}  # scope-list label -> client
        self.clients: dict[str, Credentials] = {}  # clientId -> credentials (learned)
        self.old_tokens: dict[str, Credentials] = {}
        self.task_creds: dict[str, Credentials] = {}  # taskId -> task credentials
        self.last_task_creds: Credentials | None = None
        self.object_creds: dict[str, Credentials] = {}  # object name -> upload creds
        self.hook_tokens: list[str] = []
        self.answers: dict[str, Any] = {}  # case -> our answer (when it matched)
        self._scoped_count = 0

    def close(self) -> None:
        self.http.close()

    # -- placeholders --------------------------------------------------

    def value(self, ph: str) -> str:
        """The real value of placeholder ``ph``, made if first seen here."""
        if ph not in self.values:
            kind = ph[1:].split(":", 1)[0]
            if kind == "continuationToken":
                self.values[ph] = "garbage" + secrets.token_hex(4)
            else:
                self.values[ph] = slugid.nice()
        return self.values[ph]

    def fill(self, text: str) -> str:
        """``text`` with ``<run>``, ``<root>`` and placeholders replaced."""

        def sub(m: re.Match[str]) -> str:
            tok = m.group(0)
            if tok == "<run>":
                return self.run
            if tok == "<root>":
                return self.lc.root_url
            if tok == "<s3>":
                return self.lc.blob_url
            if _PLACEHOLDER.fullmatch(tok):
                return self.value(tok)
            return tok

        return _TOKEN.sub(sub, text)

    def fill_body(self, case: dict[str, Any], body: Any, key: str = "") -> Any:
        if isinstance(body, dict):
            return {k: self.fill_body(case, v, k) for k, v in body.items()}
        if isinstance(body, list):
            return [self.fill_body(case, v, key) for v in body]
        if isinstance(body, str):
            if body == "<date>":
                return self.date_for(case, key)
            return self.fill(body)
        return body

    def date_for(self, case: dict[str, Any], key: str) -> str:
        name = case["case"]
        offsets = DATES.get(name, {})
        if key in offsets:
            off = offsets[key]
        elif key == "expires" and _artifact_case(case):
            off = ARTIFACT_EXPIRES
        else:
            off = DATE_FIELDS.get(key, 0.0)
        base = self.lc.clock.now() if name in LIVE_DATES else self.t0
        return iso(base + off)

    # -- matching answers ----------------------------------------------

    def pattern(self, expected: str) -> tuple[re.Pattern[str], list[str]]:
        """A regex for a recorded string; groups capture unbound placeholders."""
        out, pos = "", 0
        names: list[str] = []
        for m in _TOKEN.finditer(expected):
            out += re.escape(expected[pos : m.start()])
            tok = m.group(0)
            pos = m.end()
            if tok == "<run>":
                out += re.escape(self.run)
            elif tok == "<root>":
                out += re.escape(self.lc.root_url)
            elif tok == "<s3>":
                # the bucket's layout is the deployment's: only the origin counts
                out += re.escape(self.lc.blob_url) + r"(?:/.*)?"
                return re.compile(out + r".*", re.S), names
            elif tok == "<date>":
                out += _DATE_RE
            elif tok == "<epoch>":
                out += r"\d+"
            elif tok == "<uuid>":
                out += r"[0-9a-f-]{36}"
            elif tok in ("<redacted>", "<varies>"):
                out += r".+?"
            elif tok in self.values and not tok.startswith("<continuationToken:"):
                out += re.escape(self.values[tok])
            elif tok in names:
                out += f"(?P=g{names.index(tok)})"
            else:
                names.append(tok)
                kind = tok[1:].split(":", 1)[0]
                body = r".+?" if kind == "continuationToken" else _SLUG_RE
                out += f"(?P<g{len(names) - 1}>{body})"
        out += re.escape(expected[pos:])
        return re.compile(out, re.S), names

    def match_string(self, expected: str, actual: str) -> bool:
        if expected in ("<varies>", "<redacted>"):
            return True
        rx, names = self.pattern(expected)
        m = rx.fullmatch(actual)
        if m is None:
            return False
        for i, ph in enumerate(names):
            # tokens are opaque: each answer's token is what the next page sends
            self.values[ph] = m.group(f"g{i}")
        return True

    # -- running -------------------------------------------------------

    def result(self, index: int) -> Outcome:
        """The outcome of case ``index``, running every earlier case first."""
        while len(self.outcomes) <= index:
            case = self.cases[len(self.outcomes)]
            try:
                outcome = self.replay(case)
            except Exception as exc:  # reported as the case's failure
                outcome = Outcome(case["case"], case["service"], [f"replay failed: {exc!r}"])
            self.outcomes.append(outcome)
        return self.outcomes[index]

    def replay(self, case: dict[str, Any]) -> Outcome:
        name = case["case"]
        for step in SETUP.get(name, ()):
            step(self)
        method = case["method"]
        path = self.fill(case["path"])
        if "<redacted>" in path:  # a hook's trigger token
            token = self.hook_tokens[-2 if name.endswith("/old-token") else -1]
            path = path.replace("<redacted>", token)
        query = {k: self.fill_body(case, v, k) for k, v in case["query"].items() if k != "bewit"}
        body_raw, content_type = self.body_bytes(case)
        url = self.lc.root_url + path
        if query:
            url += "?" + str(httpx.QueryParams(query))
        url, headers = self.sign(case, method, url, body_raw, content_type)
        if content_type:
            headers["Content-Type"] = content_type
        response = self.http.request(method, url, content=body_raw, headers=headers)
        outcome = Outcome(
            name, case["service"], status=response.status_code, answer=response.text[:2000]
        )
        outcome.problems = self.compare_response(case, response)
        if outcome.ok:
            self.learn(case, response)
            self.answers[name] = _json(response)
        after = AFTER.get(name)
        if after is not None:
            after(self)
        return outcome

    def body_bytes(self, case: dict[str, Any]) -> tuple[bytes, str]:
        body = case["request"]
        if body is None:
            return b"", ""
        if isinstance(body, dict) and set(body) == {"_raw"}:
            return str(body["_raw"]).encode(), "application/json"
        filled = self.fill_body(case, body)
        if case["entry"] == "authenticateHawk" and isinstance(filled, dict):
            filled = self.authenticate_hawk_body(case, filled)
        return json.dumps(filled).encode(), "application/json"

    def authenticate_hawk_body(self, case: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        port = httpx.URL(self.lc.root_url).port
        if "port" in body:
            body["port"] = port
        if "authorization" in body:
            creds = self.root
            if case["case"].endswith("bad-mac"):
                creds = Credentials(self.root.client_id, "wrong-" + self.root.access_token)
            url = httpx.URL(f"http://{body['host']}:{port}{body['resource']}")
            auth = HawkAuth(creds, now=self.lc.clock.now)
            body["authorization"] = auth.authorization(body["method"].upper(), url, b"", "")
        return body

    # -- credentials ---------------------------------------------------

    def sign(
        self, case: dict[str, Any], method: str, url: str, body: bytes, content_type: str
    ) -> tuple[str, dict[str, str]]:
        label = self.fill(case["auth"])
        now = self.lc.clock.now

        def hawk(creds: Credentials, scopes: list[str] | None = None, skew: float = 0) -> str:
            auth = HawkAuth(creds, scopes, now=lambda: now() + skew)
            return auth.authorization(method, httpx.URL(url), body, content_type)

        if label == "anonymous":
            return url, {}
        if label == "root":
            return url, {"Authorization": hawk(self.root)}
        if label.startswith("bewit"):
            creds = self.root
            expires = int(now()) + 900
            if label == "bewit-expired":
                expires = int(now()) - 60
            if label == "bewit-bad-mac":
                creds = Credentials(self.root.client_id, "wrong-" + self.root.access_token)
            return sign_url(url, creds, expires_at=expires), {}
        if label.startswith("scoped:"):
            scopes_text, _, rest = label[len("scoped:") :].partition("+authorized-scopes:")
            creds = self.scoped_client(json.loads(scopes_text))
            authorized = json.loads(rest) if rest else None
            return url, {"Authorization": hawk(creds, authorized)}
        if label.startswith("authorized-scopes:"):
            scopes = json.loads(label[len("authorized-scopes:") :])
            return url, {"Authorization": hawk(self.root, scopes)}
        if label.startswith("client:"):
            return url, {"Authorization": hawk(self.clients[label[len("client:") :]])}
        if label.startswith("clock-skew:"):
            skew = float(label[len("clock-skew:") :].rstrip("m")) * 60
            return url, {"Authorization": hawk(self.root, skew=skew)}
        if label == "temporary":
            return url, {"Authorization": hawk(self.temporary(case))}
        if label == "temporary-named":
            creds = self.temp(["auth:current-scopes"], name=f"traces-{self.run}/temp-named")
            return url, {"Authorization": hawk(creds)}
        if label == "temporary-expired":
            start = self.lc.clock.now() - 7200
            return url, {"Authorization": hawk(self.temp(["*"], start=start))}
        if label == "temporary-tampered-certificate":
            good = self.temp(["auth:current-scopes"])
            cert = json.loads(good.certificate or "{}")
            cert["scopes"] = ["*"]
            bad = Credentials(good.client_id, good.access_token, json.dumps(cert))
            return url, {"Authorization": hawk(bad)}
        if label == "bad-mac":
            wrong = Credentials(self.root.client_id, "wrong-" + self.root.access_token)
            return url, {"Authorization": hawk(wrong)}
        if label == "unknown-client":
            ghost = Credentials(f"traces-{self.run}/no-such-client", "no-such-token")
            return url, {"Authorization": hawk(ghost)}
        if label in ("disabled-client", "deleted-client"):
            return url, {"Authorization": hawk(self.clients[f"traces-{self.run}/client-a"])}
        if label == "old-access-token":
            return url, {"Authorization": hawk(self.old_tokens[f"traces-{self.run}/client-a"])}
        if label == "malformed-header":
            return url, {"Authorization": 'Hawk id="x"'}
        if label == "bearer-header":
            return url, {"Authorization": "Bearer abc"}
        if label == "bad-payload-hash":
            auth = HawkAuth(self.root, now=now)
            other = b'{"scopes": ["something:else"]}'
            return url, {
                "Authorization": auth.authorization(method, httpx.URL(url), other, content_type)
            }
        if label == "root-without-ext":
            sender = mohawk.Sender(
                {"id": self.root.client_id, "key": self.root.access_token, "algorithm": "sha256"},
                url,
                method,
                content=body.decode() if body else "",
                content_type=content_type if body else "",
                always_hash_content=True,
                _timestamp=int(now()),
            )
            return url, {"Authorization": sender.request_header}
        if label == "test-credentials":
            return url, {"Authorization": hawk(Credentials("tester", "no-secret"))}
        raise ReplayError(f"unknown auth label {label!r}")

    def temp(
        self, scopes: list[str], *, name: str | None = None, start: float | None = None
    ) -> Credentials:
        begin = datetime.fromtimestamp(
            start if start is not None else self.lc.clock.now() - 60, tz=timezone.utc
        )
        return create_temporary_credentials(
            self.root, scopes, start=begin, expiry=timedelta(hours=1), name=name
        )

    def temporary(self, case: dict[str, Any]) -> Credentials:
        """The temporary credentials a ``temporary`` case was sent with."""
        message = ""
        if isinstance(case["response"], dict):
            message = str(case["response"].get("message", ""))
        m = re.search(r"Client ID task-client/(<taskId:\d+>)/", message)
        if m:
            return self.task_creds[self.value(m.group(1))]
        path = case["path"]
        if case["service"] == "object":
            name = self.fill(path.rsplit("/", 1)[1]).replace("%2F", "/")
            return self.object_creds[name]
        m = re.search(r"/task/(<taskId:\d+>)/", path)
        if m:
            task_id = self.value(m.group(1))
            if task_id in self.task_creds:
                return self.task_creds[task_id]
        if case["service"] == "auth":
            return self.temp(["auth:current-scopes"])
        if self.last_task_creds is not None:
            return self.last_task_creds
        raise ReplayError("no temporary credentials known for this case")

    def scoped_client(self, scopes: list[str]) -> Credentials:
        key = json.dumps(scopes)
        if key not in self.scoped:
            self._scoped_count += 1
            client_id = f"traces-{self.run}/scoped-{self._scoped_count}"
            answer = self.call(
                "PUT",
                f"/api/auth/v1/clients/{client_id.replace('/', '%2F')}",
                {
                    "description": "record_traces.py scoped client",
                    "expires": iso(self.t0 + DAY),
                    "scopes": scopes,
                    "deleteOnExpiration": True,
                },
            )
            self.scoped[key] = Credentials(client_id, answer["accessToken"])
        return self.scoped[key]

    # -- setup requests --------------------------------------------------

    def call(
        self, method: str, path: str, body: Any = None, creds: Credentials | None = None
    ) -> Any:
        """One request made by the replay itself (setup), signed as root."""
        url = self.lc.root_url + path
        raw = b"" if body is None else json.dumps(body).encode()
        ctype = "application/json" if body is not None else ""
        auth = HawkAuth(creds or self.root, now=self.lc.clock.now)
        headers = {"Authorization": auth.authorization(method, httpx.URL(url), raw, ctype)}
        if ctype:
            headers["Content-Type"] = ctype
        r = self.http.request(method, url, content=raw, headers=headers)
        if r.status_code >= 400:
            raise ReplayError(f"setup {method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content and "json" in r.headers.get("content-type", "") else None

    def task_body(
        self,
        queue: str,
        *,
        group: str | None = None,
        retries: int | None = None,
        priority: str = "lowest",
        dependencies: list[str] | None = None,
        routes: list[str] | None = None,
        deadline: float = DAY,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "taskQueueId": self.queue_id(queue),
            "schedulerId": "-",
            "dependencies": [self.fill(d) for d in dependencies or []],
            "routes": routes or [],
            "priority": priority,
            "created": iso(self.lc.clock.now()),
            "deadline": iso(self.lc.clock.now() + deadline),
            "expires": iso(self.lc.clock.now() + 30 * DAY),
            "payload": {"command": ["echo", "hello"]},
            "metadata": {
                "name": "traces task",
                "description": "record_traces.py",
                "owner": "traces@example.com",
                "source": "https://example.com/tools/real-stack/record_traces.py",
            },
            "tags": {"purpose": "traces"},
        }
        if group is not None:
            body["taskGroupId"] = self.fill(group)
        if retries is not None:
            body["retries"] = retries
        return body

    def make_task(self, ph: str | None, queue: str, **kwargs: Any) -> str:
        task_id = self.value(ph) if ph else slugid.nice()
        self.call("PUT", f"/api/queue/v1/task/{task_id}", self.task_body(queue, **kwargs))
        return task_id

    def queue_id(self, queue: str) -> str:
        """``traces-<run>/<queue>``; ``-bg/<queue>`` for the background cases'."""
        return (
            f"traces-{self.run}{queue}"
            if queue.startswith("-bg/")
            else (f"traces-{self.run}/{queue}")
        )

    def claim_work(self, queue: str, worker: str, count: int = 1) -> list[str]:
        """Claim ``count`` tasks of ``queue`` as ``worker``; their task ids."""
        answer = self.call(
            "POST",
            f"/api/queue/v1/claim-work/{self.queue_id(queue).replace('/', '%2F')}",
            {"workerGroup": "traces-wg", "workerId": worker, "tasks": count},
        )
        claimed = []
        for owner, creds in _credentials_in(answer):
            if owner is not None:
                self.task_creds[owner] = creds
                self.last_task_creds = creds
                claimed.append(owner)
        if len(claimed) != count:
            raise ReplayError(f"claimWork on {queue} gave {len(claimed)} tasks, not {count}")
        return claimed

    def claim(self, task_id: str, worker: str, run: int = 0) -> Credentials:
        answer = self.call(
            "POST",
            f"/api/queue/v1/task/{task_id}/runs/{run}/claim",
            {"workerGroup": "traces-wg", "workerId": worker},
        )
        creds = _creds(answer["credentials"])
        self.task_creds[task_id] = creds
        self.last_task_creds = creds
        return creds

    # -- learning from answers -----------------------------------------

    def learn(self, case: dict[str, Any], response: httpx.Response) -> None:
        data = _json(response)
        for creds_owner, creds in _credentials_in(data):
            if creds_owner is not None:
                self.task_creds[creds_owner] = creds
                self.last_task_creds = creds
        if isinstance(data, dict):
            if case["entry"] == "createArtifact" and data.get("storageType") == "object":
                self.object_creds[str(data["name"])] = _creds(data["credentials"])
            if case["entry"] in ("createClient", "resetAccessToken") and "accessToken" in data:
                cid = str(data["clientId"])
                if cid in self.clients:
                    self.old_tokens[cid] = self.clients[cid]
                self.clients[cid] = Credentials(cid, str(data["accessToken"]))
            if case["entry"] in ("getTriggerToken", "resetTriggerToken") and "token" in data:
                self.hook_tokens.append(str(data["token"]))

    # -- comparing -----------------------------------------------------

    def compare_response(self, case: dict[str, Any], response: httpx.Response) -> list[str]:
        problems: list[str] = []
        if response.status_code != case["status"]:
            problems.append(f"status {response.status_code}, recorded {case['status']}")
        for key, want in case["headers"].items():
            got = response.headers.get(key)
            if key in ("server-authorization", "retry-after"):
                if got is None:
                    problems.append(f"header {key} missing")
            elif got is None:
                problems.append(f"header {key} missing (recorded {want!r})")
            elif not self.match_string(want, got):
                problems.append(f"header {key}: {got!r}, recorded {want!r}")
        for key in ("www-authenticate", "location", "x-taskcluster-artifact-storage-type"):
            if key not in case["headers"] and key in response.headers:
                problems.append(f"header {key} sent, not recorded")
        expected = case["response"]
        actual = _json(response)
        if "filtered to this run" in case["note"]:
            actual = self.only_this_run(actual)
        if expected is None:
            if response.content:
                problems.append(f"body {response.text[:80]!r}, recorded none")
        elif isinstance(expected, dict) and set(expected) == {"_text"}:
            text = response.text[:300]
            if not self.match_string(expected["_text"], text):
                problems.append(f"body {text!r}, recorded {expected['_text']!r}")
        elif actual is _NOT_JSON:
            problems.append(f"body is not JSON: {response.text[:80]!r}")
        else:
            self.compare(expected, actual, "body", problems)
        return problems[:12]

    def only_this_run(self, data: Any) -> Any:
        """A global listing as the trace keeps it: only this run's items."""

        def mine(items: list[Any]) -> list[Any]:
            return [item for item in items if self.run in json.dumps(item)]

        if isinstance(data, list):
            return mine(data)
        if isinstance(data, dict):
            return {k: mine(v) if isinstance(v, list) else v for k, v in data.items()}
        return data

    def compare(self, want: Any, got: Any, where: str, problems: list[str]) -> None:
        if isinstance(want, dict):
            if not isinstance(got, dict):
                problems.append(f"{where}: {type(got).__name__}, recorded object")
                return
            if set(want) != set(got):
                missing = sorted(set(want) - set(got))
                extra = sorted(set(got) - set(want))
                problems.append(f"{where}: keys missing {missing}, extra {extra}")
            for key in want:
                if key not in got:
                    continue
                if _is_message(key, want[key]):
                    self.compare_message(want[key], got[key], f"{where}.{key}", problems)
                elif key == "requestInfo":
                    self.compare_request_info(want[key], got[key], where, problems)
                else:
                    self.compare(want[key], got[key], f"{where}.{key}", problems)
            return
        if isinstance(want, list):
            if not isinstance(got, list):
                problems.append(f"{where}: {type(got).__name__}, recorded list")
                return
            if len(want) != len(got):
                problems.append(f"{where}: {len(got)} items, recorded {len(want)}")
                return
            for i, (w, g) in enumerate(zip(want, got, strict=True)):
                self.compare(w, g, f"{where}[{i}]", problems)
            return
        if want == "<varies>":
            return
        if isinstance(want, str):
            if not isinstance(got, str):
                problems.append(f"{where}: {got!r}, recorded string {want!r}")
            elif not self.match_string(want, got):
                problems.append(f"{where}: {got!r}, recorded {want!r}")
            return
        same_kind = isinstance(want, bool) == isinstance(got, bool)
        if not (same_kind and type(got) in (type(want), int, float) and want == got):
            problems.append(f"{where}: {got!r}, recorded {want!r}")

    def compare_request_info(self, want: Any, got: Any, where: str, problems: list[str]) -> None:
        if not isinstance(got, dict):
            problems.append(f"{where}.requestInfo: not an object")
            return
        for key in ("method", "params", "payload"):
            self.compare(want.get(key), got.get(key), f"{where}.requestInfo.{key}", problems)
        if set(want) != set(got):
            problems.append(f"{where}.requestInfo keys {sorted(got)}, recorded {sorted(want)}")

    def compare_message(self, want: str, got: Any, where: str, problems: list[str]) -> None:
        """Our words, their facts: every placeholder the recorded message
        names, and the missing scopes it lists, must appear in ours."""
        if not isinstance(got, str):
            problems.append(f"{where}: not a string")
            return
        body, _, footer = want.partition("\n\n---\n\n")
        if footer and "\n\n---\n\n" not in got:
            problems.append(f"{where}: no --- footer")
        ours = got.partition("\n\n---\n\n")[0]
        long_enough = len(body) >= _OWN_WORDS and not body.startswith("Internal Server Error")
        if long_enough and self.match_string(body, ours):
            problems.append(f"{where}: the recorded message, word for word (use own words)")
        for fact in _PLACEHOLDER.findall(body):
            ph = f"<{fact[0]}:{fact[1]}>"
            if ph in self.values and self.values[ph] not in got:
                problems.append(f"{where}: does not name {ph} ({self.values[ph]})")
        if "missing the following scopes" in body:
            block = body.split("```", 2)[1]
            for line in block.strip().splitlines():
                line = line.strip().rstrip(",").strip('"')
                if line and '"' not in line and " " not in line and ":" in line:
                    filled = self.fill(line)
                    if filled not in got:
                        problems.append(f"{where}: does not name the missing scope {filled!r}")
        named, schema_fields = _named_fields(body)
        for name in sorted(n for n in named if n not in ours):
            problems.append(f"{where}: does not name the field {name!r}")
        # a schema validation lists every error, each naming its field
        for name in sorted(f for f in schema_fields if f not in ours):
            problems.append(f"{where}: does not name the field {name!r} of a schema error")


_NOT_JSON = object()

#: Recorded messages at least this long must not come back word for word:
#: the local cluster says the same facts in its own words.
_OWN_WORDS = 40


_QUOTED_FIELD = re.compile(r"`([A-Za-z][\w.]*)`")  # `deadline`, `task.dependencies`
_SCHEMA_FIELDS = (
    re.compile(r"\bdata/(?:\w+/)*(\w+)"),  # a schema error's path: data/payload
    re.compile(r"required property '([^']+)'"),
    re.compile(r'additional properties: "([^"]+)"'),
)


def _named_fields(message: str) -> tuple[set[str], set[str]]:
    """The fields a recorded message names: backquoted ones, and those its
    schema errors name."""
    quoted = {m.group(1) for m in _QUOTED_FIELD.finditer(message)}
    schema = {m.group(1) for rx in _SCHEMA_FIELDS for m in rx.finditer(message)}
    return quoted, schema


def _is_message(key: str, value: Any) -> bool:
    """An error text in the services' own words (compared by its facts)."""
    if not isinstance(value, str):
        return False
    if key == "message":
        return "\n---\n" in value
    return key == "error" and len(value) > 40


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


def _creds(data: dict[str, Any]) -> Credentials:
    return Credentials(str(data["clientId"]), str(data["accessToken"]), data.get("certificate"))


def _credentials_in(data: Any) -> Iterator[tuple[str | None, Credentials]]:
    """Task credentials in an answer (claimWork, claimTask, reclaimTask)."""
    if isinstance(data, dict):
        creds = data.get("credentials")
        status = data.get("status")
        if isinstance(creds, dict) and isinstance(status, dict) and "taskId" in status:
            yield str(status["taskId"]), _creds(creds)
        for value in data.values():
            if isinstance(value, list):
                for item in value:
                    yield from _credentials_in(item)


# -- setup steps: what the recording made without recording the request ------

Step = Callable[[Replayer], None]


def _group_of_two(group_ph: str, first: str, second: str) -> Step:
    def step(r: Replayer) -> None:
        group = r.value(group_ph)
        for ph in (first, second):
            r.make_task(ph, "groups", group=group)

    return step


def _tasks(queue: str, *phs: str | None, **kwargs: Any) -> Step:
    def step(r: Replayer) -> None:
        for ph in phs:
            r.make_task(ph, queue, **kwargs)

    return step


def _claim(task_ph: str, worker: str) -> Step:
    def step(r: Replayer) -> None:
        r.claim(r.value(task_ph), worker)

    return step


def _advance(seconds: float) -> Step:
    """Move the cluster clock (what the recording waited for)."""

    def step(r: Replayer) -> None:
        r.lc.advance(seconds)

    return step


def _claim_work(queue: str, worker: str, count: int = 1) -> Step:
    def step(r: Replayer) -> None:
        r.claim_work(queue, worker, count)

    return step


def _link(task_ph: str, name: str, target: str) -> Step:
    def step(r: Replayer) -> None:
        task_id = r.value(task_ph)
        r.call(
            "POST",
            f"/api/queue/v1/task/{task_id}/runs/0/artifacts/{name.replace('/', '%2F')}",
            {"storageType": "link", "artifact": target, "expires": iso(r.t0 + ARTIFACT_EXPIRES)},
            creds=r.task_creds[task_id],
        )

    return step


def _index(namespace: str, task_ph: str) -> Step:
    def step(r: Replayer) -> None:
        r.call(
            "PUT",
            f"/api/index/v1/task/garbage.traces.{r.run}.{namespace}",
            {"taskId": r.value(task_ph), "rank": 0, "data": {}, "expires": iso(r.t0 + 30 * DAY)},
        )

    return step


def _role(role_id: str, scopes: list[str]) -> Step:
    def step(r: Replayer) -> None:
        rid = r.fill(role_id)
        r.call(
            "PUT",
            f"/api/auth/v1/roles/{rid.replace('/', '%2F')}",
            {"description": "record_traces.py", "scopes": [r.fill(s) for s in scopes]},
        )

    return step


def _recorded(r: Replayer, name: str) -> dict[str, Any]:
    return next(c for c in r.cases if c["case"] == name)


def _hidden_hooks(r: Replayer) -> None:
    """The hooks the recording made without recording it: ``typed`` and
    ``bad-task`` (as listHooks shows them) and a ``noscopes`` hook in a
    group of its own whose role grants nothing."""
    listed = _recorded(r, "hooks.listHooks/ok")["response"]["hooks"]
    by_id = {h["hookId"]: h for h in listed}
    todo = [(by_id[h], "<run>", h) for h in ("typed", "bad-task")]
    todo.append((by_id["basic"], "<run>-noscopes", "noscopes"))
    for hook, group, hook_id in todo:
        body = {k: v for k, v in hook.items() if k not in ("hookId", "hookGroupId")}
        r.call(
            "PUT",
            f"/api/hooks/v1/hooks/traces-{r.fill(group)}/{hook_id}",
            r.fill_body(_recorded(r, "hooks.listHooks/ok"), body),
        )


def _put_blob(upload_case: str, data: bytes) -> Step:
    """PUT ``data`` to the putUrl a recorded createUpload answered."""

    def step(r: Replayer) -> None:
        answer = r.answers[upload_case]["uploadMethod"]["putUrl"]
        got = r.http.put(answer["url"], content=data, headers=answer["headers"])
        if got.status_code != 200:
            raise ReplayError(f"PUT to the putUrl: {got.status_code} {got.text[:200]}")

    return step


def _inline_object(name: str, upload_ph: str, data: bytes) -> Step:
    def step(r: Replayer) -> None:
        import hashlib

        object_name = r.fill(name)
        r.call(
            "PUT",
            f"/api/object/v1/upload/{object_name.replace('/', '%2F')}",
            {
                "projectId": "traces",
                "uploadId": r.value(upload_ph),
                "expires": iso(r.t0 + DAY),
                "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
                "proposedUploadMethods": {
                    "dataInline": {
                        "contentType": "text/plain",
                        "objectData": base64.b64encode(data).decode(),
                    }
                },
            },
        )

    return step


_HOOK_ROLE_SCOPES = [
    "queue:create-task:project:none",
    "queue:scheduler-id:-",
    "queue:create-task:lowest:traces-<run>/hooks",
]

SETUP: dict[str, list[Step]] = {
    "queue.cancelTaskGroup/unsealed": [
        _group_of_two("<taskGroupId:4>", "<taskId:30>", "<taskId:31>")
    ],
    "queue.changeTaskGroupPriority/ok": [
        _group_of_two("<taskGroupId:7>", "<taskId:32>", "<taskId:33>")
    ],
    "queue.claimWork/one-task": [_tasks("work", "<taskId:35>", retries=1)],
    "queue.claimWork/two-tasks": [_tasks("multi", "<taskId:36>", "<taskId:37>", retries=1)],
    "queue.reportException/malformed-payload": [
        _tasks("malformed", "<taskId:38>"),
        _claim_work("malformed", "worker-3"),
    ],
    "queue.claimTask/ok": [_tasks("claimtask", "<taskId:39>")],
    "queue.createArtifact/s3-public": [_claim_work("artifacts", "worker-6")],
    "queue.createArtifact/unclaimed-run": [_tasks("unclaimed", "<taskId:42>")],
    "queue.getLatestArtifact/no-runs": [
        _tasks("unclaimed", "<taskId:46>", dependencies=["<taskId:24>"])
    ],
    "queue.pendingTasks/ok": [_tasks("pending", "<taskId:48>", "<taskId:49>", "<taskId:50>")],
    "queue.taskQueueCounts/claimed": [
        _tasks("claimed", "<taskId:51>", "<taskId:52>"),
        _claim_work("claimed", "worker-7", 2),
    ],
    "index.findTask/ok": [_index("a.two", "<taskId:35>"), _index("b.one", "<taskId:35>")],
    "object.finishUpload/put-url": [
        _put_blob("object.createUpload/put-url", bytes(range(256)) * 1200)
    ],
    "object.finishUpload/hash-mismatch": [
        _inline_object("traces/<run>/hash-mismatch.txt", "<slug:13>", b"some object data\n")
    ],
    "auth.createRole/again-identical": [_role("traces-<run>/role-b", ["secrets:get:x"])],
    "hooks.listHookGroups/all": [_hidden_hooks],
    "hooks.triggerHook/ok": [_role("hook-id:traces-<run>/*", _HOOK_ROLE_SCOPES)],
    # background cases: deadlines 6 s ahead, then the cluster clock moves
    "queue.createArtifact/expires-soon": [
        _tasks("-bg/deadline", "<taskId:62>", "<taskId:63>", group="<taskGroupId:9>", deadline=6.0),
        _tasks(
            "-bg/deadline",
            "<taskId:64>",
            group="<taskGroupId:9>",
            deadline=6.0,
            dependencies=["<taskId:63>"],
        ),
        _claim("<taskId:61>", "worker-d"),
        _claim("<taskId:62>", "worker-d"),
    ],
    "queue.reportCompleted/after-deadline-before-resolver": [_advance(10)],
    "queue.status/deadline-exceeded-running": [_advance(70)],
    "queue.quarantineWorker/ok": [
        _tasks("-bg/quarantine", "<taskId:65>"),
        _claim_work("-bg/quarantine", "worker-q"),
    ],
    "queue.claimWork/quarantined-worker": [_tasks("-bg/quarantine", None)],
}
#: Steps after a case (what the recording did next without recording it).
AFTER: dict[str, Step] = {
    "queue.createArtifact/link-cycle": _link("<taskId:40>", "public/cycle-a", "public/cycle-b"),
}
