"""Adapters named in a registry (`{name: "module:Class"}`) and imported only when chosen."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def adapter_class(registry: Mapping[str, str], name: str, base: type, *, kind: str) -> type[Any]:
    """The class registered under `name`, a subclass of `base`; ValueError naming the known
    names (`kind` says what they name) when `name` is not one of them."""
    try:
        module_name, class_name = registry[name].split(":")
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; known: {sorted(registry)}") from None
    adapter = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(adapter, type) and issubclass(adapter, base)):
        raise TypeError(f"{registry[name]} is not a {base.__name__}")
    return adapter
