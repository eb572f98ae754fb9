"""The coverage sweep's tooling (not installed with the package): per-model checks and process isolation.

``python -m benchmarks.coverage`` is the command line; ``tests/test_coverage_sample.py`` runs a sample.
"""
