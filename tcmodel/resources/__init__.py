"""The lazy resource handles: TaskGroup, Task, Run, Artifact, Namespace.

Example:
    >>> from tcmodel.resources import Task, TaskGroup
    >>> Task.__name__, TaskGroup.__name__
    ('Task', 'TaskGroup')
"""

from tcmodel.resources.artifact import Artifact
from tcmodel.resources.collection import Listing
from tcmodel.resources.index import IndexEntry, Namespace
from tcmodel.resources.run import Run
from tcmodel.resources.task import Task, TaskBatch
from tcmodel.resources.task_group import TaskGroup

__all__ = [
    "Artifact",
    "IndexEntry",
    "Listing",
    "Namespace",
    "Run",
    "Task",
    "TaskBatch",
    "TaskGroup",
]
