"""The lazy resource handles: TaskGroup, Task, Run, Artifact, Namespace.

Example:
    >>> from tcmodel.resources import Task, TaskGroup
    >>> Task.__name__, TaskGroup.__name__
    ('Task', 'TaskGroup')
"""

from tcmodel._completion import expose_resources
from tcmodel.cluster import Cluster
from tcmodel.graph import CriticalPath, Failure, Failures, PathStep, Timeline
from tcmodel.resources.artifact import Artifact
from tcmodel.resources.base import Resource
from tcmodel.resources.collection import Listing
from tcmodel.resources.index import IndexEntry, Namespace
from tcmodel.resources.run import LogText, Run
from tcmodel.resources.task import Task, TaskBatch
from tcmodel.resources.task_group import TaskGroup

__all__ = [
    "Artifact",
    "IndexEntry",
    "Listing",
    "LogText",
    "Namespace",
    "Run",
    "Task",
    "TaskBatch",
    "TaskGroup",
]

# Completion that never fetches: annotations both completers can read.
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
    Cluster,
    models=(PathStep, CriticalPath, Timeline, Failure, Failures),
)
