"""All configuration in one typed tree: TOML in ``configs/`` -> dataclasses, checked before any work starts."""

from distant.config.core import (CommandLineText, apply_overrides, build, check_range, data_dir, dump_toml, expand,
                                 load_toml, to_dict)

__all__ = ["CommandLineText", "apply_overrides", "build", "check_range", "data_dir", "dump_toml", "expand",
           "load_toml", "to_dict"]
