"""What the pile did, per new class, and the CLI's lines for it: no labels, so what can be said without them.

Per class: how many pile photos its cluster holds and the *name agreement*, the share of those photos
that the text rows alone also gave this class. A cluster the names barely vouch for may carry the
wrong name (a drift to a neighbouring class): the summary warns about such classes.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

LOW_AGREEMENT = 0.1  # name agreement under which the summary lists a class as possibly misnamed


def per_class(adapted, free: torch.Tensor, names: Sequence[str]) -> dict[str, Any]:
    """Per new class: pile photos in its cluster and their name agreement (``None`` without any).

    ``adapted``: ``inject.unlabelled.rows.Adapted`` over labelled photos then the pile; ``free`` ``[M + N]``
    marks the pile's photos.
    """
    labels, text = adapted.labels[free], adapted.text_labels[free]
    out: dict[str, Any] = {}
    for k, name in enumerate(names):
        mine = labels == k
        count = int(mine.sum())
        agreement = round(float((text[mine] == k).float().mean()), 3) if count else None
        out[name] = {"pile_photos": count, "name_agreement": agreement}
    return out


def pile_summary(record: dict[str, Any]) -> list[str]:
    """With --unlabelled-images: what was done, one line per class, and a warning for classes the names barely vouch for."""
    pile = record.get("unlabelled")
    if not pile:
        return []
    offset = pile["offset"]["details"]
    lines = [f"unlabelled: {pile['photos']} photos ({pile['left_to_seen']} left to the seen classes); pull towards the "
             f"names {pile['strength']:g} photos (rehearsal); offset {pile['offset']['gamma']:.2f}, "
             f"{offset['pile_to_new']:.2f} of the pile to new classes; per class, pile photos and the share the names "
             "alone also put there:"]
    for name, entry in pile["per_class"].items():
        agreement = "-" if entry["name_agreement"] is None else f"{entry['name_agreement']:.2f}"
        lines.append(f"  {name}: {entry['pile_photos']} photos, names agree {agreement}")
    low = [name for name, entry in pile["per_class"].items()
           if entry["name_agreement"] is not None and entry["name_agreement"] < LOW_AGREEMENT]
    empty = [name for name, entry in pile["per_class"].items() if entry["pile_photos"] == 0]
    if low:
        lines.append(f"  warning: the names alone agree with under {LOW_AGREEMENT:.0%} of the cluster of {len(low)} "
                     f"class(es) ({', '.join(low[:5])}{', ...' if len(low) > 5 else ''}): their cluster may belong to a "
                     "neighbouring class; a few labelled photos (--images) settle it")
    if empty:
        lines.append(f"  note: no pile photo went to {', '.join(empty[:5])}{', ...' if len(empty) > 5 else ''}: "
                     "they keep their text direction")
    return lines
