"""Unsorted photos of the new classes (``unlabelled=`` / ``--unlabelled-images``): rows adapted to how they cluster."""
