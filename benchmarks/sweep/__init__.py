"""The coverage sweep's tooling (not installed with the package): per-model checks (timm, torchvision,
transformers), small transformers configs, process isolation and the transformers report section.

``python -m benchmarks.coverage`` is the command line; ``tests/test_coverage_sample.py`` runs a sample.
"""
