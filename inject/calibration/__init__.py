"""Calibration of predicted rows against the seen ones, folded into the new rows' bias.

A registry of image-free methods, each mapping a ``Problem`` to a ``Calibration`` (the offset
``gamma`` added to every new bias, and a record of how it was chosen):

* ``virtual`` (default): maximise the harmonic mean on virtual features (``virtual.py``);
* ``margin``: ``log(C) * (1 - rho)`` from the held-out row cosine ``rho`` (``rules.py``);
* ``prior``: zero-shot logit adjustment, ``log(prior_ratio)`` (``rules.py``);
* ``none``: no offset.

With labelled photos, ``stacking.stacking_gamma`` chooses the offset by calibrated stacking instead.
"""
from .base import DEFAULT_CALIBRATION, Calibration, Problem, calibrate, list_calibrations, register_calibration
from .rules import match_row_norms
from . import virtual  # noqa: F401  (registration)

__all__ = ["DEFAULT_CALIBRATION", "Calibration", "Problem", "calibrate", "list_calibrations", "match_row_norms",
           "register_calibration"]
