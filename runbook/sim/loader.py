"""Importing a part's modules by path, also in a stand-in process.

A stand-in is a fresh interpreter per invocation, so it must not pay for the
plugin manager, nor for the plugin package's ``__init__`` (which imports the
plugin's actions and their pydantic models: 100-200 ms). ``init_sandbox``
records where each part's top-level package lives; the stand-in entry point
calls ``light_packages`` with that record, which makes the package importable
as a bare namespace, so ``import runbook_kubectl.sim.kubectl`` runs only the
``sim`` subpackage. Hence the rule for part authors: a part's modules import
from their own ``sim`` subpackage, other parts' ``sim`` subpackages,
``runbook.sim`` and the standard library, never from the plugin's top level.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType


def light_packages(packages: Mapping[str, str]) -> None:
    """Make each ``{top-level package: folder}`` importable without running its __init__.

    Only for stand-in processes: a package already imported is left alone.
    """
    for name, folder in packages.items():
        if name in sys.modules:
            continue
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [folder]
        module = types.ModuleType(name)
        module.__spec__ = spec
        module.__path__ = [folder]
        module.__package__ = name
        sys.modules[name] = module


def load(module: str) -> ModuleType:
    return importlib.import_module(module)


def locate(modules: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """Where the top-level packages of ``modules`` live: (sys.path roots, {package: folder}).

    ``runbook`` itself is a root but never made light (its ``__init__`` is cheap and
    the stand-in entry point lives in it).
    """
    roots: list[str] = []
    packages: dict[str, str] = {}
    for name in ["runbook", *modules]:
        top = name.split(".", 1)[0]
        if top in packages or (top == "runbook" and roots):
            continue
        spec = importlib.util.find_spec(top)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"no package {top!r} (needed by {name})", name=top)
        folder = Path(next(iter(spec.submodule_search_locations))).resolve()
        if str(folder.parent) not in roots:
            roots.append(str(folder.parent))
        if top != "runbook":
            packages[top] = str(folder)
    return roots, packages
