"""Which new classes will work: a per-class estimate before any photo, and warnings with remedies.

``assess`` (``assess.py``) runs in every injection: signals of each new class (``signals.py``) are related to
how well hidden seen classes were predicted in a rehearsal on virtual photos (``rehearsal.py``,
``relation.py``, ``estimate.py``), and classes expected near chance or read oddly get one warning line each
(``warnings.py``). docs/design.md has the method and its measurements.
"""
from .assess import Trust, assess, weakest_table
from .warnings import shown_lines

__all__ = ["Trust", "assess", "shown_lines", "weakest_table"]
