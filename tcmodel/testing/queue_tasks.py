"""Queue handlers for tasks and task groups.

createTask and the calls that read or steer tasks (task, status, schedule,
rerun, cancel, priority), the task-group calls, listDependentTasks and the
bulk ``tasks``/``statuses`` calls, as a mixin of
:class:`~tcmodel.testing.queue.QueueService`.

Example:
    >>> sorted(TaskHandlers.handler_names())[:3]
    ['cancelTask', 'cancelTaskGroup', 'changeTaskGroupPriority']
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from tcmodel.testing._core import ApiError, Request, handles, iso
from tcmodel.testing.queue_core import QueueBase
from tcmodel.testing.queue_model import (
    MAX_RUNS,
    TaskGroup,
    TaskRecord,
    add_years,
    ms,
    paginate,
    priorities_at_or_above,
    with_token,
)
from tcmodel.testing.queue_validate import (
    CHANGE_PRIORITY,
    CREATE_TASK,
    TASKS_REQUEST,
    validate_body,
)
from tcmodel.utils import parse_date

__all__ = ["TaskHandlers"]

_DRIFT = 15 * 60
_GROUP_EXPIRY_MARGIN = 3600


def _date(text: str) -> float:
    return ms(parse_date(text).timestamp())


def _input_error(message: str) -> ApiError:
    return ApiError(400, "InputError", message)


class TaskHandlers(QueueBase):
    """createTask, task/status reads, task steering and task groups.

    Example:
        >>> "createTask" in TaskHandlers.handler_names()
        True
    """

    # -- reads -------------------------------------------------------------------

    @handles("task")
    def _api_task(self, req: Request) -> Any:
        """``GET /task/<taskId>``: the task definition."""
        return self._task(req.params["taskId"]).definition

    @handles("status")
    def _api_status(self, req: Request) -> Any:
        """``GET /task/<taskId>/status``: ``{status}``."""
        task = self._task(
            req.params["taskId"],
            f"No task has taskId `{req.params['taskId']}` (never created, or expired).",
        )
        return {"status": task.status_json()}

    # -- createTask ----------------------------------------------------------------

    def _definition(self, req: Request, task_id: str) -> dict[str, Any]:
        """The body with the queue's defaults filled in (dates not yet checked)."""
        body = req.body
        validate_body(CREATE_TASK, body, "create-task-request.json")
        prov, wtype, tqid = (
            body.get("provisionerId"),
            body.get("workerType"),
            body.get("taskQueueId"),
        )
        if prov and wtype and tqid:
            if f"{prov}/{wtype}" != tqid:
                raise _input_error(
                    f"taskQueueId `{tqid}` and provisionerId/workerType `{prov}/{wtype}` "
                    "disagree: give one or make them name the same queue"
                )
        elif prov and wtype:
            tqid = f"{prov}/{wtype}"
        elif tqid:
            prov, _, wtype = tqid.partition("/")
        else:
            raise _input_error(
                "at least a provisionerId and a workerType or a taskQueueId must be provided"
            )
        return {
            "provisionerId": prov,
            "workerType": wtype,
            "taskQueueId": tqid,
            "schedulerId": body.get("schedulerId", "-"),
            "projectId": body.get("projectId") or "none",
            "taskGroupId": body.get("taskGroupId") or task_id,
            "dependencies": list(body.get("dependencies", [])),
            "requires": body.get("requires", "all-completed"),
            "routes": list(body.get("routes", [])),
            "priority": body.get("priority", "lowest"),
            "retries": int(body.get("retries", 5)),
            "created": body["created"],
            "deadline": body["deadline"],
            "expires": body.get("expires"),
            "scopes": list(body.get("scopes", [])),
            "payload": body["payload"],
            "metadata": body["metadata"],
            "tags": body.get("tags", {}),
            "extra": body.get("extra", {}),
        }

    def _check_dates(self, d: dict[str, Any], now: float) -> tuple[float, float]:
        """Check and normalise ``created``/``deadline``/``expires`` in place."""
        created, deadline = _date(d["created"]), _date(d["deadline"])
        if created < now - _DRIFT:
            raise _input_error("`created` is more than 15 minutes in the past")
        if created > now + _DRIFT:
            raise _input_error("`created` is more than 15 minutes in the future")
        if created > deadline:
            raise _input_error("`deadline` cannot be before `created`")
        if deadline < now:
            raise _input_error("`deadline` cannot be in the past")
        days = self.cluster.settings.max_task_deadline_days
        if deadline - now > days * 86400 + _DRIFT:
            raise _input_error(f"`deadline` is more than {days} days after now (the maximum)")
        expires = add_years(deadline, 1) if d["expires"] is None else _date(d["expires"])
        if deadline > expires:
            raise _input_error("`expires` cannot be before `deadline`")
        d["created"], d["deadline"], d["expires"] = iso(created), iso(deadline), iso(expires)
        return deadline, ms(expires)

    def _join_group(self, d: dict[str, Any], expires: float) -> TaskGroup:
        gid, scheduler = d["taskGroupId"], d["schedulerId"]
        group = self.groups.get(gid)
        if group is None:
            group = TaskGroup(gid, scheduler, expires + _GROUP_EXPIRY_MARGIN)
            self.groups[gid] = group
            self._timer(group.expires, "group", gid)
        elif group.scheduler_id != scheduler:
            raise self._conflict(
                f"Task group `{gid}` contains tasks with a schedulerId other than "
                f"`{scheduler}`. All tasks in the same task-group must have the same "
                "schedulerId."
            )
        if group.sealed is not None:
            raise self._conflict(f"Task group `{gid}` was sealed: no task can join it now.")
        group.expires = max(group.expires, expires + _GROUP_EXPIRY_MARGIN)
        return group

    def _track_dependencies(self, task: TaskRecord, now: float) -> None:
        """Satisfy what is already resolved and schedule run 0 when nothing
        blocks; a 400 for missing or too-short-lived dependencies (the task
        stays, unscheduled)."""
        deps = task.definition["dependencies"]
        missing = [d for d in deps if d not in self.tasks]
        expiring = [d for d in deps if d in self.tasks and self.tasks[d].expires < task.deadline]
        problems = [
            (missing, "references non-existing tasks", "exist before the task is created"),
            (
                expiring,
                "references tasks that expire before `task.deadline`",
                "have `task.expires` later than the `deadline` of this task",
            ),
        ]
        msg = "".join(
            f"`task.dependencies` {what}:\n"
            + "".join(f" * {d}\n" for d in ids)
            + f"All taskIds in `task.dependencies` **must** {rule}.\n"
            for ids, what, rule in problems
            if ids
        )
        if msg:
            raise _input_error(msg)
        for dep_id in deps:
            if dep_id in task.blockers and self._satisfied_by(task, self.tasks[dep_id]):
                task.blockers.discard(dep_id)
        if not task.blockers:
            self._schedule(task, now)

    @handles("createTask")
    def _api_create_task(self, req: Request) -> Any:
        """``PUT /task/<taskId>``: create a task (idempotent)."""
        task_id = req.params["taskId"]
        now = self._now(req)
        d = self._definition(req, task_id)
        req.authorize(
            taskId=task_id,
            scopes=d["scopes"],
            routes=d["routes"],
            priorities=priorities_at_or_above(d["priority"]),
            projectId=d["projectId"],
            schedulerId=d["schedulerId"],
            taskGroupId=d["taskGroupId"],
            provisionerId=d["provisionerId"],
            workerType=d["workerType"],
            taskQueueId=d["taskQueueId"],
        )
        deadline, expires = self._check_dates(d, now)
        if any(s.endswith("**") for s in d["scopes"]):
            raise _input_error("scopes must not end with `**`")
        group = self._join_group(d, expires)
        task = self.tasks.get(task_id)
        new = task is None
        if task is None:
            task = TaskRecord(
                task_id, d, deadline, expires, d["retries"], blockers=set(d["dependencies"])
            )
            self.tasks[task_id] = task
            group.members.append(task_id)  # creation order, as the real listings
            for dep in dict.fromkeys(d["dependencies"]):
                self.dependents.setdefault(dep, []).append(task_id)
            self._seen(task.task_queue_id, now)
            self._timer(deadline + self.cluster.settings.deadline_delay, "deadline", task_id)
            self._timer(expires, "task", task_id)
        elif json.dumps(task.definition, sort_keys=True) != json.dumps(d, sort_keys=True):
            raise self._conflict(
                f"A task with taskId `{task_id}` exists already, with another definition "
                "(createTask is idempotent only for an identical body)."
            )
        if new:
            self._announce("task-defined", task)
        try:
            self._track_dependencies(task, now)
        except ApiError:
            if new:  # left behind unscheduled, but the group does not list it
                with contextlib.suppress(ValueError):
                    group.members.remove(task_id)
            raise
        return {"status": task.status_json()}

    # -- steering ------------------------------------------------------------------

    def _steer(self, req: Request, verb: str) -> TaskRecord:
        """Load and authorize for schedule/rerun/cancel; 409 past the deadline."""
        task_id = req.params["taskId"]
        task = self._task(task_id, f"No task `{task_id}` here: never created, or expired.")
        d = task.definition
        req.authorize(
            taskId=task_id,
            schedulerId=d["schedulerId"],
            taskGroupId=d["taskGroupId"],
            projectId=d["projectId"],
        )
        if task.deadline < self._now(req):
            raise self._conflict(
                f"Task `{task_id}` is past its deadline ({d['deadline']}): it can't be {verb}."
            )
        return task

    @handles("scheduleTask")
    def _api_schedule_task(self, req: Request) -> Any:
        """``POST /task/<taskId>/schedule``: add run 0 even if blocked."""
        task = self._steer(req, "scheduled")
        self._schedule(task, self._now(req))
        return {"status": task.status_json()}

    @handles("rerunTask")
    def _api_rerun_task(self, req: Request) -> Any:
        """``POST /task/<taskId>/rerun``: a new ``rerun`` run after resolution."""
        task = self._steer(req, "rescheduled")
        if task.state not in ("pending", "running"):
            if len(task.runs) >= MAX_RUNS:
                raise self._conflict(f"Maximum number of runs reached ({MAX_RUNS}).")
            task.retries_left = min(task.definition["retries"], MAX_RUNS - 1 - len(task.runs))
            self._add_run(task, "rerun", self._now(req))
        return {"status": task.status_json()}

    @handles("cancelTask")
    def _api_cancel_task(self, req: Request) -> Any:
        """``POST /task/<taskId>/cancel``: resolve ``exception``/``canceled``."""
        task = self._steer(req, "canceled")
        self._cancel(task, "canceled", self._now(req))
        return {"status": task.status_json()}

    @handles("changeTaskPriority")
    def _api_change_task_priority(self, req: Request) -> Any:
        """``POST /task/<taskId>/priority``: change a task's priority (resolved
        tasks too, as the real queue does; 409 past the deadline)."""
        validate_body(CHANGE_PRIORITY, req.body, "change-task-priority-request.json")
        task = self._task(req.params["taskId"])
        req.authorize(taskId=task.task_id, taskQueueId=task.task_queue_id)
        if task.deadline < self._now(req):
            raise self._conflict(
                f"The priority of task `{task.task_id}` can't change past its deadline of "
                f"{task.definition['deadline']}."
            )
        old = task.priority
        self._reprioritize(task, req.body["newPriority"], self._now(req))
        self._announce(
            "task-priority-changed", task, oldPriority=old, newPriority=req.body["newPriority"]
        )
        return {"status": task.status_json()}

    # -- task groups ---------------------------------------------------------------

    @handles("getTaskGroup")
    def _api_get_task_group(self, req: Request) -> Any:
        """``GET /task-group/<taskGroupId>``: group metadata."""
        return self._group(req.params["taskGroupId"]).to_json()

    @handles("listTaskGroup")
    def _api_list_task_group(self, req: Request) -> Any:
        """``GET /task-group/<taskGroupId>/list``: members, paged by taskId."""
        group = self._group(req.params["taskGroupId"])
        ids, token = paginate(req.query, group.members, self.cluster.settings.max_page_size)
        body = group.to_json()
        body["tasks"] = [self._definition_and_status(self.tasks[t]) for t in ids]
        return with_token(body, token)

    @staticmethod
    def _definition_and_status(task: TaskRecord) -> dict[str, Any]:
        return {"status": task.status_json(), "task": task.definition}

    def _authorized_group(self, req: Request) -> TaskGroup:
        group = self._group(req.params["taskGroupId"])
        req.authorize(taskGroupId=group.task_group_id, schedulerId=group.scheduler_id)
        return group

    @handles("sealTaskGroup")
    def _api_seal_task_group(self, req: Request) -> Any:
        """``POST /task-group/<taskGroupId>/seal``: no new tasks from now on."""
        group = self._authorized_group(req)
        if group.sealed is None:
            group.sealed = self._now(req)
            self._announce("task-group-sealed", group=group)
        return group.to_json()

    @handles("cancelTaskGroup")
    def _api_cancel_task_group(self, req: Request) -> Any:
        """``POST /task-group/<taskGroupId>/cancel``: cancel every unresolved
        task of a sealed group."""
        group = self._authorized_group(req)
        if group.sealed is None:
            raise self._conflict(
                f"Task group `{group.task_group_id}` is not sealed. "
                "Seal it with sealTaskGroup before cancelling it."
            )
        now = self._now(req)
        cancelled = [t for t in list(group.members) if self._cancel(self.tasks[t], "canceled", now)]
        return {
            "taskGroupId": group.task_group_id,
            "taskGroupSize": len(group.members),
            "cancelledCount": len(cancelled),
            "taskIds": cancelled,
        }

    @handles("changeTaskGroupPriority")
    def _api_change_task_group_priority(self, req: Request) -> Any:
        """``POST /task-group/<taskGroupId>/priority``: re-prioritise every
        unresolved task of a group."""
        validate_body(CHANGE_PRIORITY, req.body, "change-task-priority-request.json")
        group = self._authorized_group(req)
        priority, now = req.body["newPriority"], self._now(req)
        changed = [t for t in group.members if not self.tasks[t].resolved]
        for task_id in changed:
            self._reprioritize(self.tasks[task_id], priority, now)
        self._announce(
            "task-group-priority-changed",
            group=group,
            newPriority=priority,
            tasksAffected=len(changed),
        )
        return {
            "taskGroupId": group.task_group_id,
            "schedulerId": group.scheduler_id,
            "newPriority": priority,
            "tasksAffected": len(changed),
            "taskIds": changed,
        }

    # -- dependents and bulk reads -------------------------------------------------

    @handles("listDependentTasks")
    def _api_list_dependent_tasks(self, req: Request) -> Any:
        """``GET /task/<taskId>/dependents``: tasks that depend on a task."""
        task_id = req.params["taskId"]
        self._task(task_id, f"No task has taskId `{task_id}`; it has no dependents to list")
        deps = self.dependents.get(task_id, [])
        ids, token = paginate(req.query, deps, self.cluster.settings.max_page_size)
        tasks = [self._definition_and_status(self.tasks[t]) for t in ids]
        return with_token({"taskId": task_id, "tasks": tasks}, token)

    def _bulk(self, req: Request) -> tuple[list[TaskRecord], str | None]:
        validate_body(TASKS_REQUEST, req.body, "tasks-request.json")
        ids = req.body.get("taskIds", [])
        req.authorize(taskIds=ids)
        wanted = {t for t in ids if t in self.tasks}
        # in creation order (the order of the real services' table), not as asked
        known = [task for t, task in self.tasks.items() if t in wanted] if wanted else []
        return paginate(req.query, known, self.cluster.settings.max_page_size)

    @handles("tasks")
    def _api_tasks_bulk(self, req: Request) -> Any:
        """``POST /tasks``: definitions of many tasks (unknown ids dropped)."""
        page, token = self._bulk(req)
        rows = [{"taskId": t.task_id, "task": t.definition} for t in page]
        return with_token({"tasks": rows}, token)

    @handles("statuses")
    def _api_statuses_bulk(self, req: Request) -> Any:
        """``POST /tasks/status``: statuses of many tasks (unknown ids dropped)."""
        page, token = self._bulk(req)
        rows = [{"taskId": t.task_id, "status": t.status_json()} for t in page]
        return with_token({"statuses": rows}, token)
