"""distant: weakly supervised named-entity recognition from dictionaries and patterns."""

__version__ = "0.1.0"
