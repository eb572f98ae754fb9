"""Hugging Face Hub ids (``timm/resnet50.a1_in1k``, ``google/vit-base-patch16-224``) as model sources.

An id resolves through huggingface_hub to a snapshot folder: from the local cache when offline
(``HF_HUB_OFFLINE=1``) or when the Hub cannot be reached, downloaded otherwise. timm's ``hf-hub:``
prefix is accepted too.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InjectError

HUB_ID = re.compile(r"(?:hf-hub:)?([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@([\w.-]+))?")


def hub_id(source: str) -> tuple[str, str | None] | None:
    """(repo id, revision or ``None``) when ``source`` is written as a Hub id, else ``None``."""
    match = HUB_ID.fullmatch(source)
    return (match[1], match[2]) if match else None


def hub_snapshot(source: str) -> Path:
    """The local snapshot folder of the Hub id ``source``.

    Raises:
        InjectError: the id is neither in the local cache nor downloadable from here.
    """
    from huggingface_hub import constants, snapshot_download

    repo_id, revision = hub_id(source) or (source, None)
    try:
        return Path(snapshot_download(repo_id, revision=revision))
    except Exception as error:  # offline misses, unknown repos and network failures raise many types
        text = " ".join(str(error).split())
        reason = text.split(". ")[0].rstrip(".") if text else type(error).__name__
        raise InjectError(
            f"model '{source}' is not a local file or folder, and the Hub id '{repo_id}' is not in the Hugging Face "
            f"cache ({constants.HF_HUB_CACHE}) ({reason}); download it where the Hub is reachable "
            f"(huggingface-cli download {repo_id}) or give a local folder"
        ) from error
