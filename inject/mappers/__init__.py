"""Injection methods: each module registers one ``Mapper`` (descriptors -> classifier rows)."""
from .base import DEFAULT_MAPPER, Mapper, create_mapper, list_mappers, register_mapper
from . import conse, crafted, hypernet, icis, vmf_gen  # noqa: F401  (registration)

__all__ = ["DEFAULT_MAPPER", "Mapper", "create_mapper", "list_mappers", "register_mapper"]
