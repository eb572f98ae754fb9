"""Find the classification layer of any timm/torchvision/transformers model or bare state dict, and extend it."""
# first: its locator then runs before timm's and torchvision's, so a transformers model is read in its own terms
from . import transformers_heads  # noqa: F401  (registers the transformers rules)
from .errors import HeadError
from .modules import ModuleHead, extend_head, find_head
from .rules import (
    is_classifier_layer, register_bookkeeper, register_branch_rule, register_locator, register_norm_wrapper,
    register_wrapper,
)
from .state_dict import StateDictHead, extend_state_dict, find_head_in_state_dict, register_state_dict_locator

__all__ = [
    "HeadError",
    "ModuleHead",
    "StateDictHead",
    "extend_head",
    "extend_state_dict",
    "find_head",
    "find_head_in_state_dict",
    "is_classifier_layer",
    "register_bookkeeper",
    "register_branch_rule",
    "register_locator",
    "register_norm_wrapper",
    "register_state_dict_locator",
    "register_wrapper",
]
