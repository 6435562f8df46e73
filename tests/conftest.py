"""Shared test configuration (tests/ is on sys.path via pyproject's pythonpath)."""
