"""inject-classes: give a pretrained classifier new classes from their names, without images."""
__version__ = "0.1.0"

from .api import inject, labels, load_model, save_model
from .errors import InjectError
from .mappers import DEFAULT_MAPPER, Mapper, create_mapper, list_mappers, register_mapper

__all__ = ["DEFAULT_MAPPER", "InjectError", "Mapper", "create_mapper", "inject", "labels", "list_mappers", "load_model", "register_mapper", "save_model"]
