"""Labelling functions for the ``function`` labeler's tests (imported by name from a config)."""

from __future__ import annotations


def azoles(doc):
    """Label every token ending in 'azole' as a Chemical, as (start, end, label) offsets."""
    return [(s, e, "Chemical") for s, e in doc.tokens if doc.text[s:e].lower().endswith("azole")]


not_callable = 3
