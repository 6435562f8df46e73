"""Flat records to pandas DataFrames with proper dtypes (pandas optional).

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> df = dataframe([{"state": "failed", "started": datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...                  "duration": timedelta(seconds=3)}])
    >>> str(df["state"].dtype), str(df["started"].dtype), str(df["duration"].dtype)
    ('category', 'datetime64[ns, UTC]', 'timedelta64[ns]')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tcmodel._extras import require
from tcmodel.models import TASK_STATES

__all__ = ["dataframe"]

#: Columns that hold task or run states: categorical, in lifecycle order.
STATE_COLUMNS = ("state",)


def dataframe(records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Any:
    """A ``pandas.DataFrame`` of ``records``: datetimes as ``datetime64[ns,
    UTC]`` (``[us, UTC]`` when a date lies beyond 2262), durations as
    ``timedelta64[ns]``, states as an ordered categorical; ``columns``
    fixes the columns of an empty table. Raises
    :class:`~tcmodel._extras.MissingExtra` without pandas.

    Example:
        >>> list(dataframe([], columns=["task_id", "state"]).columns)
        ['task_id', 'state']
    """
    pd = require("pandas", "notebook")
    cols = list(columns) if columns is not None else list(records[0]) if records else []
    df = pd.DataFrame.from_records(list(records), columns=cols)
    for col in df.columns:
        values = [v for v in df[col] if v is not None and v == v]  # skip None and NaN
        if col in STATE_COLUMNS:
            known = list(TASK_STATES) + sorted({v for v in values if v not in TASK_STATES})
            df[col] = pd.Categorical(df[col], categories=known, ordered=True)
        elif values and all(isinstance(v, datetime) for v in values):
            dates = pd.to_datetime(df[col], utc=True)
            try:
                df[col] = dates.astype("datetime64[ns, UTC]")
            except pd.errors.OutOfBoundsDatetime:  # e.g. "never expires": year 3000
                df[col] = dates.astype("datetime64[us, UTC]")
        elif values and all(isinstance(v, timedelta) for v in values):
            df[col] = pd.to_timedelta(df[col]).astype("timedelta64[ns]")
    return df
