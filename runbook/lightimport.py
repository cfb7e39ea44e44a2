"""Importing one submodule of a library without running its package ``__init__``.

structlog's ``__init__`` imports every part of structlog (its dev console
renderer pulls in rich, asyncio and ssl: ~30 ms); the audit pipeline needs
only ``structlog._base``. ``submodule`` imports such a submodule under a
temporary bare package and then takes the bare package away again, so a later
``import structlog`` (by the application) runs the real ``__init__``, which
finds the submodules already loaded and shares them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from types import ModuleType

_LOCK = threading.Lock()


def submodule(name: str) -> ModuleType:
    """``importlib.import_module(name)``, minus the top-level package's ``__init__``
    unless that package is already imported."""
    package = name.split(".", 1)[0]
    with _LOCK:
        if package in sys.modules or name in sys.modules:
            return importlib.import_module(name)
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return importlib.import_module(name)
        bare = types.ModuleType(package)
        bare.__path__ = list(spec.submodule_search_locations)
        bare.__spec__ = spec
        bare.__package__ = package
        sys.modules[package] = bare
        try:
            return importlib.import_module(name)
        finally:
            if sys.modules.get(package) is bare:
                del sys.modules[package]
