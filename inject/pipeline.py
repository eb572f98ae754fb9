"""The injection pipeline, written once for the API and the CLI.

classes -> descriptors -> mapper rows -> seen/unseen offset -> extended head + record. The model side
is a ``Target`` (``inject.targets``): a module in memory or a state dict from a file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Generic, Mapping, Sequence

import torch

from . import __version__
from .calibration.base import CALIBRATIONS, DEFAULT_CALIBRATION, Calibration
from .calibration.rules import prior_gamma
from .calibration.stacking import stacking_gamma
from .errors import InjectError
from .images import labelled_images
from .knowledge.classes import known_class_descriptors
from .knowledge.context import readable_names
from .knowledge.describe import with_descriptions
from .mappers.base import DEFAULT_MAPPER, MAPPERS, create_mapper
from .names import default_seen_names, select_new_names
from .photos.apply import shape_rows
from .photos.support import Support, gather_support
from .rows import NewRows, check_gamma, head_rows, predict_new_rows
from .semantics import as_descriptors, encode_names, resolve_encoder
from .targets import Model, Target
from .trust import Trust, assess
from .unlabelled.apply import Knowledge, adapt_to_pile, pile_of

DESCRIPTORS = ("knowledge", "names")
DEFAULT_DESCRIPTORS = "knowledge"


@dataclass(frozen=True)
class Request:
    """What to inject and how: everything but the model.

    Attributes:
        new: ``K`` new class names, or a ``[K, E]`` array of descriptors.
        seen: the ``C`` seen class names (default: the model's labels), or ``[C, E]`` descriptors
            when ``new`` is an array.
        mapper / calibration: registered names (``--mapper`` / ``--calibration``).
        encoder: sentence encoder for names (``None``: the packaged default).
        gamma: a fixed seen/unseen offset; prior_ratio: prior of one new class over one seen class.
        calibrate_images: a folder of labelled photos that chooses the offset instead.
        images: photos of some new classes (a folder of class subfolders, or ``{name: [photos]}``): they
            reshape those classes' rows (``inject.photos``) and, without ``gamma`` or ``calibrate_images``,
            choose the offset.
        unlabelled: unsorted photos of the new classes (a folder, searched recursively, or a list of photos):
            they sharpen the new rows and, without ``calibrate_images``, choose the offset (``inject.unlabelled``).
        descriptions: ``{new name: [free texts]}`` written by the user, encoded with the name's gloss.
        descriptors: how names become descriptors: ``"knowledge"`` (WordNet synset, gloss, hierarchy and
            descriptions, source weights fitted on the seen rows) or ``"names"`` (the name alone, averaged
            with its descriptions if any).
        allow_existing: skip new names the model already has instead of failing.
        progress: show progress bars.
        seen_from: where ``seen`` came from, for messages (the CLI names its ``--seen-names`` file).
    """

    new: Any
    seen: Any = None
    mapper: str = DEFAULT_MAPPER
    encoder: Any = None
    gamma: float | None = None
    calibration: str = DEFAULT_CALIBRATION
    prior_ratio: float | None = None
    calibrate_images: str | os.PathLike | None = None
    allow_existing: bool = False
    progress: bool = False
    seen_from: str = "seen"
    descriptions: Mapping[str, Sequence[str]] | None = None
    descriptors: str = DEFAULT_DESCRIPTORS
    images: Any = None
    unlabelled: Any = None

    def check(self) -> None:
        """Refuse bad options before any work (the encoder and the fit are the slow parts)."""
        MAPPERS.get(self.mapper)
        CALIBRATIONS.get(self.calibration)
        check_gamma(self.gamma)
        if self.prior_ratio is not None:
            prior_gamma(self.prior_ratio)
        if self.descriptors not in DESCRIPTORS:
            raise InjectError(f"unknown descriptors '{self.descriptors}' (--descriptors); choose one of: {', '.join(DESCRIPTORS)}")
        check_descriptions(self.descriptions, self.new if _is_names(self.new) else [])
        if self.calibrate_images is not None and self.gamma is not None:
            raise InjectError("give either gamma (--gamma) or calibrate_images (--calibrate-images), not both: "
                              "the photos choose gamma")
        if self.unlabelled is not None and self.gamma is not None:
            raise InjectError("give either gamma (--gamma) or unlabelled photos (--unlabelled-images), not both: "
                              "the unlabelled photos choose gamma")


@dataclass(frozen=True)
class Classes:
    """Names and descriptors of both sides: ``seen`` ``[C, E]``, ``new`` ``[K, E]``, and how they were made.

    ``record`` goes into the output's ``inject`` record; ``explained`` holds one dict per new class
    (synset, gloss, nearest seen classes) for ``--explain``; ``conse_power``: the neighbour power the
    knowledge step chose for the default mapper; ``seen_wnids``: the seen names' synsets (knowledge step only).
    """

    seen_names: list[str]
    new_names: list[str]
    seen: torch.Tensor
    new: torch.Tensor
    encoder: str
    record: dict[str, Any] = field(default_factory=dict)
    explained: list[dict[str, Any]] = field(default_factory=list)
    conse_power: float = 1.0
    seen_wnids: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class Injection(Generic[Model]):
    """The pipeline's result: the extended model, all ``C + K`` label names, the record it carries, and
    per new class what its name was taken to mean (``Classes.explained``)."""

    model: Model
    label_names: list[str]
    record: dict[str, Any]
    explained: list[dict[str, Any]] = field(default_factory=list)


def _is_names(classes: Any) -> bool:
    return isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes)


def check_descriptions(descriptions: Mapping[str, Sequence[str]] | None, new_names: Sequence[str]) -> None:
    """Refuse descriptions that are not ``{new name: [texts]}`` for names among the new ones."""
    if descriptions is None:
        return
    if not isinstance(descriptions, Mapping):
        raise InjectError("descriptions must be a mapping {new class name: [texts]}")
    for name, texts in descriptions.items():
        if name not in new_names:
            raise InjectError(f"descriptions give texts for '{name}', which is not one of the new class names")
        if isinstance(texts, str) or not all(isinstance(t, str) and t.strip() for t in texts):
            raise InjectError(f"descriptions of '{name}' must be a list of non-empty strings, e.g. ['a striped horse']")


def _names_classes(request: Request, seen_names: list[str], new_names: list[str], rows: torch.Tensor) -> Classes:
    """Descriptors of named classes: the knowledge step, or the name templates alone.

    Seen classes are described by their readable names (``readable_names``: ImageNet classes labelled by
    wnid or by transformers' descriptions read as the package's names); their labels stay as they are.
    """
    encoder = resolve_encoder(request.encoder)
    readable = readable_names(seen_names)
    if request.descriptors == "names":
        encoded = encode_names(readable + new_names, encoder, progress=request.progress)
        new = with_descriptions(encoded[len(seen_names) :], new_names, request.descriptions or {}, encoder)
        return Classes(seen_names, new_names, encoded[: len(seen_names)], new, encoder.name,
                       {"descriptors": "names", "described": sorted(request.descriptions or {})})
    known = known_class_descriptors(readable, new_names, rows, encoder, request.descriptions, request.progress)
    return Classes(seen_names, new_names, known.seen, known.new, encoder.name, known.record(), known.explain(seen_names),
                   known.power, known.seen_wnids)


def class_names(request: Request, target: Target, num_classes: int) -> tuple[list[str], list[str]]:
    """(``C`` seen names, ``K`` new names) after every check on them; no encoding yet.

    Descriptor arrays get the model's labels (or ``class_i``) and ``new_i`` as names.
    """
    if isinstance(request.new, str):
        raise InjectError(f"new must be a list of class names, not the string '{request.new}'; write [{request.new!r}]")
    if not _is_names(request.new):
        if request.seen is None or _is_names(request.seen):
            raise InjectError("new classes are descriptor vectors, so seen must be vectors of the same width, one per head row")
        try:
            seen_names = default_seen_names(num_classes, target.known_labels(), target.where)
        except InjectError:
            seen_names = [f"class_{i}" for i in range(num_classes)]
        return seen_names, [f"new_{i}" for i in range(len(request.new))]
    if request.seen is not None and not _is_names(request.seen):
        raise InjectError("new classes are names, so seen must be names too (or None)")
    if request.seen is not None and len(request.seen) != num_classes:
        raise InjectError(f"{request.seen_from} has {len(request.seen)} names but the head has {num_classes} rows; "
                          "give one per head row, in row order")
    known = list(request.seen) if request.seen is not None else target.known_labels()
    seen_names = default_seen_names(num_classes, known, target.where)
    return seen_names, select_new_names(list(request.new), readable_names(seen_names), request.allow_existing)


def describe(request: Request, seen_names: list[str], new_names: list[str], rows: torch.Tensor) -> Classes:
    """Descriptors of the seen and new classes, from names (encoded) or from the arrays given.

    ``rows`` ``[C, R]``: the seen ``[W | b]`` (the knowledge step chooses its source weights on them).
    """
    if _is_names(request.new):
        return _names_classes(request, seen_names, new_names, rows)
    new, seen = as_descriptors(request.new, "new descriptors"), as_descriptors(request.seen, "seen descriptors")
    return Classes(seen_names, new_names, seen, new, "precomputed", {"descriptors": "precomputed"})


def _photos(request: Request, target: Target, has_bias: bool, names: Sequence[str]):
    """The labelled photos of ``calibrate_images`` (paths, labels), checked before any fit; ``None`` without."""
    if request.calibrate_images is None:
        return None
    if not has_bias:
        raise InjectError(f"head '{target.head_path}' of {target.where} has no bias, so calibrate_images "
                          "(--calibrate-images) has no offset to set; leave it out")
    target.check_runnable("--calibrate-images")
    return labelled_images(request.calibrate_images, names)


def _support(request: Request, target: Target, seen_names: list[str], new_names: list[str]) -> Support | None:
    """The photos of new classes in ``images``, checked before any fit; ``None`` without."""
    if request.images is None:
        return None
    target.check_runnable("--images")
    return gather_support(request.images, new_names, seen_names)


def _on_photos(target: Target, rows: NewRows, photos, seen: int, progress: bool) -> Calibration:
    """Calibrated stacking: run a trial model with the un-offset rows on the photos, choose gamma there."""
    paths, labels = photos
    trial = target.extended(rows.weight, rows.bias, final=False)
    new = torch.arange(seen, seen + rows.weight.shape[0])
    return stacking_gamma(target.logits(trial, paths, progress), labels, new)


def _trust(classes: Classes, rows: NewRows, seen_rows: torch.Tensor, shaped) -> Trust:
    """The per-class estimate and warnings of the rows about to be written (``inject.trust``), from the seen
    ``[W | b]`` ``seen_rows``; the photos' leave-photos-out top-1 kept beside it when ``shaped`` has photos."""
    return assess(classes.seen_names, classes.new_names, classes.seen, classes.new, seen_rows, rows.weight, rows.bias,
                  rows.gamma, classes.conse_power, classes.explained, classes.seen_wnids,
                  rows.calibration.details.get("scale"), shaped.record["per_class"] if shaped else None)


def inject_into(target: Target[Model], request: Request) -> Injection[Model]:
    """Run the whole pipeline on ``target``; every write goes through the target's adapters."""
    request.check()
    weight, bias = target.rows()
    seen_names, new_names = class_names(request, target, weight.shape[0])
    photos = _photos(request, target, bias is not None, seen_names + new_names)  # checked before any encoding
    support = _support(request, target, seen_names, new_names)
    seen_rows = head_rows(weight.float(), None if bias is None else bias.float())
    pile = pile_of(request.unlabelled, target, bias is not None)
    classes = describe(request, seen_names, new_names, seen_rows)
    gamma = 0.0 if (photos or support or pile) and request.gamma is None else request.gamma
    options = {"power": classes.conse_power} if request.mapper == "conse" else {}
    mapper = create_mapper(request.mapper, **options)
    rows = predict_new_rows(weight, bias, classes.seen, classes.new, mapper, gamma, request.calibration, request.prior_ratio)
    shaped = None
    if support:
        shaped = shape_rows(target, rows, support, weight, bias, classes.new_names,
                            choose_offset=request.gamma is None and not photos and not pile, progress=request.progress)
        rows = shaped.rows
    adapted = adapt_to_pile(target, pile, rows, weight, bias, classes.new_names, Knowledge(mapper, classes.seen), shaped,
                            choose_offset=not photos, progress=request.progress)
    rows = adapted.rows if adapted else rows
    if photos:
        rows = rows.with_calibration(_on_photos(target, rows, photos, weight.shape[0], request.progress))
    record = {"mapper": request.mapper, **({"conse_power": options["power"]} if options else {}), "encoder": classes.encoder, "gamma": rows.gamma,
              "calibration": rows.calibration.record(), "injected": len(classes.new_names),
              "head": target.head_path, **classes.record, **({"photos": shaped.record} if shaped else {}),
              **({"unlabelled": adapted.record} if adapted else {}), "version": __version__}
    record.update(_trust(classes, rows, seen_rows, shaped).record())
    model = target.extended(rows.weight, rows.bias, final=True)
    return Injection(model, classes.seen_names + classes.new_names, record, classes.explained)
