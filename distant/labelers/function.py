"""A labelling function written in Python and named from the config, as skweak's ``FunctionAnnotator``.

::

    [[labelers]]
    type = "function"
    name = "years"
    function = "my_rules:years"   # a module on the Python path, and a callable in it

The callable takes the tokenized :class:`~distant.docs.Document` and returns (or yields) spans: either
:class:`~distant.docs.Span` objects or ``(start, end, label)`` character offsets. The base class checks them
like any labeler's (on token boundaries, inside the text) and counts those it cannot keep.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from distant.config.labelers import FunctionOptions
from distant.docs import Document, Span, label_types
from distant.errors import DistantError
from distant.labelers.base import Labeler


def load_function(reference: str) -> Callable:
    """Return the callable ``module:attribute`` names.

    Raises:
        DistantError: no such module, no such attribute, or one that is not callable.
    """
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise DistantError(f"function {reference!r}: cannot import module {module_name!r} ({e}); expected a "
                           "module on the Python path") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise DistantError(f"function {reference!r}: module {module_name!r} has no attribute {attribute!r}; "
                               "expected 'module:function'")
        target = getattr(target, part)
    if not callable(target):
        raise DistantError(f"function {reference!r}: found a {type(target).__name__}, expected a callable")
    return target


class FunctionLabeler(Labeler):
    """Run a Python function over each document; its spans go to this labeler's layer."""

    Options = FunctionOptions

    def __init__(self, name: str, options: FunctionOptions) -> None:
        super().__init__(name)
        self.reference = options.function
        self.declared = set(options.types)
        self.fn = load_function(options.function)

    def find_spans(self, doc: Document) -> Iterable[Span]:
        found = self.fn(doc)
        for item in found or ():
            if isinstance(item, Span):
                yield item if item.source == self.name else item.with_(source=self.name)
            elif isinstance(item, (tuple, list)) and len(item) == 3 and isinstance(item[2], str):
                yield Span(int(item[0]), int(item[1]), item[2], self.name)
            else:
                raise DistantError(f"labeler {self.name}: function {self.reference!r} returned {item!r} for "
                                   f"document {doc.id}; expected Span objects or (start, end, label) tuples")

    def types(self) -> set[str]:
        return {t for label in self.declared for t in label_types(label)}

    def __getstate__(self) -> dict:  # worker processes import the function again
        state = dict(self.__dict__)
        state["fn"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.fn = load_function(self.reference)
