"""Where a head lives: a model in memory or a state dict from a file. The pipeline reads and writes through these.

Both targets read the head's *effective* rows (branches combined, norms folded) and write new rows
only through the adapters (``extend_head`` / ``extend_state_dict``), so every branch of a
multi-branch head (DeiT/LeViT distillation heads, CrossViT scales, aux heads) gets its part.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence, TypeVar

import torch
from torch import nn

from .adapters import ModuleHead, StateDictHead, extend_head, extend_state_dict, find_head
from .adapters.features import head_inputs
from .checkpoint import label_names_from_metadata
from .errors import InjectError
from .images import Photo, model_logits, run_on_photos
from .model_labels import carried_labels

Model = TypeVar("Model")


class Target(Protocol[Model]):
    """A classifier head the pipeline can read and extend.

    Attributes:
        where: names the model in messages (``"model file 'lite0.safetensors'"``).
        head_path: the head's module path or state-dict prefix, recorded in the output.
    """

    where: str
    head_path: str

    def rows(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Effective seen rows ``[C, D]`` and biases ``[C]`` (``None`` without bias)."""
        ...

    def known_labels(self) -> list[str] | None:
        """Label names the model carries, or ``None``."""
        ...

    def check_runnable(self, option: str) -> None:
        """Raise ``InjectError`` if the model cannot be run on photos, as ``option`` (e.g. ``--images``) needs."""
        ...

    def extended(self, weight: torch.Tensor, bias: torch.Tensor | None, final: bool) -> Model:
        """The model with new effective rows ``[K, D]`` / biases ``[K]`` appended; ``final=False`` for a trial."""
        ...

    def logits(self, model: Model, paths: Sequence[Path], progress: bool) -> torch.Tensor:
        """``model``'s logits ``[N, C + K]`` on the photos at ``paths``."""
        ...

    def features(self, photos: Sequence[Photo], mirrored: bool, progress: bool) -> tuple[torch.Tensor, list[int], list[str]]:
        """The head's effective inputs for the usable ``photos`` (``[M, 2, D]`` with their mirror images when
        ``mirrored``, else ``[M, D]``), the ``M`` indices used, and a note per skipped photo."""
        ...


@dataclass
class ModuleTarget:
    """A timm/torchvision ``nn.Module`` and its head; ``inplace`` extends the model itself (final write only)."""

    model: nn.Module
    head: ModuleHead
    inplace: bool = False

    @property
    def where(self) -> str:
        return f"model {type(self.model).__name__}"

    @property
    def head_path(self) -> str:
        return self.head.path

    def rows(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """On the CPU, wherever the model lives: the core works there; the write-back returns rows to the head's device."""
        weight, bias = self.head.weight.detach().cpu(), self.head.bias
        return weight, None if bias is None else bias.detach().cpu()

    def known_labels(self) -> list[str] | None:
        return carried_labels(self.model)

    def check_runnable(self, option: str) -> None:
        return None

    def extended(self, weight: torch.Tensor, bias: torch.Tensor | None, final: bool) -> nn.Module:
        return extend_head(self.model, self.head, weight, bias, inplace=self.inplace and final)

    def logits(self, model: nn.Module, paths: Sequence[Path], progress: bool) -> torch.Tensor:
        return model_logits(model, paths, progress=progress)

    def features(self, photos: Sequence[Photo], mirrored: bool, progress: bool) -> tuple[torch.Tensor, list[int], list[str]]:
        return head_features(self.model, self.head, photos, mirrored, progress)


def head_features(
    model: nn.Module, head: ModuleHead, photos: Sequence[Photo], mirrored: bool, progress: bool
) -> tuple[torch.Tensor, list[int], list[str]]:
    """``Target.features`` for a module and its head."""
    return run_on_photos(model, photos, lambda batch: head_inputs(model, head, batch), "photo features",
                         progress=progress, mirrored=mirrored)


@dataclass
class StateDictTarget:
    """The tensors and metadata of a model file, and the head found in them."""

    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str]
    head: StateDictHead
    path: str | os.PathLike

    @property
    def where(self) -> str:
        return f"model file '{self.path}'"

    @property
    def head_path(self) -> str:
        return self.head.prefix

    def rows(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.head.rows(self.tensors)

    def known_labels(self) -> list[str] | None:
        return label_names_from_metadata(self.metadata, self.where)

    def check_runnable(self, option: str) -> None:
        if "architecture" not in self.metadata:
            raise InjectError(f"{option} runs the model, but {self.where} has no 'architecture' metadata "
                              "naming its timm model; use the Python API inject(model, ...) with the built model")

    def extended(self, weight: torch.Tensor, bias: torch.Tensor | None, final: bool) -> dict[str, Any]:
        return extend_state_dict(self.tensors, self.head, weight, bias)

    def network(self, state: dict[str, Any]) -> nn.Module:
        """The timm ``architecture`` of the metadata, holding ``state``."""
        import timm

        num_classes = state[self.head.weight_key].shape[0]
        network = timm.create_model(self.metadata["architecture"], pretrained=False, num_classes=num_classes)
        network.load_state_dict(state)
        return network

    def logits(self, model: dict[str, Any], paths: Sequence[Path], progress: bool) -> torch.Tensor:
        """Build the timm ``architecture`` with the extended state dict and run it on the photos."""
        return model_logits(self.network(model), paths, progress=progress)

    def features(self, photos: Sequence[Photo], mirrored: bool, progress: bool) -> tuple[torch.Tensor, list[int], list[str]]:
        network = self.network(self.tensors)
        return head_features(network, find_head(network), photos, mirrored, progress)
