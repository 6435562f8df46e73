"""The lazy resource handles: TaskGroup, Task, Run, Artifact, Namespace.

Example:
    >>> from tcmodel.resources import Task, TaskGroup
    >>> Task.__name__, TaskGroup.__name__
    ('Task', 'TaskGroup')
"""

from tcmodel._completion import expose_resources
from tcmodel.cluster import Cluster
from tcmodel.graph import CriticalPath, Failure, Failures, PathStep, Timeline
from tcmodel.models import _expose as _expose_models
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.auth import Client, Role
from tcmodel.resources.base import Resource
from tcmodel.resources.claim import Claim
from tcmodel.resources.collection import Listing
from tcmodel.resources.hook import Hook, TriggerToken
from tcmodel.resources.index import FoundTasks, IndexedArtifact, IndexEntry, Namespace
from tcmodel.resources.notify import Notify
from tcmodel.resources.run import LogText, Run
from tcmodel.resources.secret import Secret
from tcmodel.resources.task import Task, TaskBatch
from tcmodel.resources.task_group import TaskGroup
from tcmodel.resources.task_queue import TaskQueue, Worker

__all__ = [
    "Artifact",
    "Claim",
    "Client",
    "FoundTasks",
    "Hook",
    "IndexEntry",
    "IndexedArtifact",
    "Listing",
    "LogText",
    "Namespace",
    "Notify",
    "Role",
    "Run",
    "Secret",
    "Task",
    "TaskBatch",
    "TaskGroup",
    "TaskQueue",
    "TriggerToken",
    "Worker",
]

# Completion that never fetches: annotations both completers can read.
_expose_models()
expose_resources(
    Resource,
    TaskGroup,
    Task,
    Run,
    Artifact,
    Namespace,
    IndexEntry,
    Listing,
    LogText,
    Client,
    Role,
    Secret,
    Notify,
    Hook,
    TaskQueue,
    Worker,
    Claim,
    IndexedArtifact,
    FoundTasks,
    TriggerToken,
    Cluster,
    models=(PathStep, CriticalPath, Timeline, Failure, Failures),
)
