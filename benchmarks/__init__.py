"""tcmodel's benchmarks: figures, not tests. ``python -m benchmarks`` runs
tcmodel and the official ``taskcluster`` client side by side (see
docs/performance.md); the ``bench_*.py`` scripts measure one thing each."""
