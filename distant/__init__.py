"""distant: weakly supervised named-entity recognition from dictionaries and patterns.

The Python API (:mod:`distant.api`, ``docs/api.md``)::

    import distant
    tagger = distant.load("runs/bc5cdr")
    tagger("Cisplatin-induced nephrotoxicity ...")   # [Entity(start, end, type, text, confidence), ...]

``import distant`` stays light: torch and spaCy load when a name that needs them is first used.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = ("Entity", "Labelers", "Tagger", "load", "read", "write")
_DOCS = ("Document", "Span")

if TYPE_CHECKING:
    from distant.api import Entity, Labelers, Tagger, load, read, write
    from distant.docs import Document, Span


def __getattr__(name: str) -> Any:
    if name in _API:
        from distant import api

        return getattr(api, name)
    if name in _DOCS:
        from distant import docs

        return getattr(docs, name)
    raise AttributeError(f"module 'distant' has no attribute {name!r}")


def evaluate(gold: Any, pred: Any, **options: Any) -> Any:
    """Score predictions against gold (:func:`distant.api.evaluate`)."""
    from distant.api import evaluate as run

    return run(gold, pred, **options)


class _Package(types.ModuleType):
    """The package, whose ``evaluate`` stays the API function when the submodule ``distant.evaluate`` loads
    (Python would set the attribute to the submodule; ``from distant.evaluate import ...`` still finds it)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "evaluate" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, *_DOCS])


__all__ = ["Document", "Entity", "Labelers", "Span", "Tagger", "__version__", "evaluate", "load", "read", "write"]
