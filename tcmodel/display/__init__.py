"""Notebook and terminal views of tcmodel objects: HTML, pretty text, tables.

Everything here is a function of data already loaded: building a view never
sends a request (a listing's preview, which fetches its first page, is the
one documented exception). Resources' ``_repr_html_`` / ``_repr_pretty_``
only delegate here, importing this package when IPython asks for a view;
pandas, networkx and tqdm are imported inside the functions that need them.

Example:
    >>> from tcmodel.display import _html
    >>> _html.state_badge("failed")[:5]
    '<span'
"""
