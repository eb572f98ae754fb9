"""Find the classification layer of any timm/torchvision model or bare state dict, and extend it."""
from .errors import HeadError
from .modules import ModuleHead, extend_head, find_head, is_classifier_layer, register_locator
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
    "register_locator",
    "register_state_dict_locator",
]
