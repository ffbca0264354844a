"""The machinery that maps TOML onto typed dataclasses (the tree itself is in :mod:`distant.config`).

An unknown key is an error naming the file, the dotted key and the closest valid key. Command-line
overrides use one syntax, ``--set section.key=value``, where the value is read as a TOML value (falling back
to a plain string). Relative paths in a config file are resolved against the config file's folder, those
given with ``--set`` against the current folder (where the user typed them), and ``${DISTANT_DATA}`` expands
to the data folder (default ``../shared/data``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from distant.errors import DistantError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

T = TypeVar("T")


def data_dir() -> Path:
    """Return the folder holding the shared corpora, as an absolute path.

    ``$DISTANT_DATA`` when set; else ``../shared/data`` from the working directory, or from the checkout
    this package lives in when the working directory has none.
    """
    env = os.environ.get("DISTANT_DATA")
    if env:
        return Path(env).resolve()
    here = Path("../shared/data").resolve()
    checkout = Path(__file__).resolve().parents[2] / "shared" / "data"
    return here if here.is_dir() or not checkout.is_dir() else checkout


_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(value: str, where: str = "config", path: str | os.PathLike | None = None) -> str:
    """Expand ``${DISTANT_DATA}`` and other environment variables in a config string.

    Raises:
        DistantError: the string names a variable that is not set (naming ``where``, the dotted key).
    """
    if "${DISTANT_DATA}" in value:
        value = value.replace("${DISTANT_DATA}", str(data_dir()))

    def variable(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in os.environ:
            raise DistantError(f"{where}: the environment variable {name} in {value!r} is not set; expected it "
                               "to be exported (or the value written out)", path)
        return os.environ[name]

    return _VARIABLE.sub(variable, value)


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML file, turning syntax errors into a one-line :class:`DistantError`."""
    path = Path(path)
    if not path.is_file():
        raise DistantError("config file not found", path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DistantError(f"expected UTF-8 text, found byte {e.object[e.start]:#x}", path) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"\(at line (\d+)", str(e))
        line = int(found.group(1)) if found else None
        message = str(e).split(" (at ")[0]
        raise DistantError(f"invalid TOML: {message}", path, line) from None


class CommandLineText(str):
    """A string given with ``--set``: a relative path in it is taken from the current folder."""


def _parse_value(raw: str) -> Any:
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return _mark(value)


def _mark(value: Any) -> Any:
    if isinstance(value, str):
        return CommandLineText(value)
    if isinstance(value, list):
        return [_mark(v) for v in value]
    return value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a nested dict (in place) and return it."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise DistantError(f"--set {item!r}: expected KEY=VALUE, e.g. train.epochs=3")
        parts = key.strip().split(".")
        node: Any = data
        for part in parts[:-1]:
            if isinstance(node, list):  # an array of tables: labelers.0.unknown_label
                if not part.isdigit() or int(part) >= len(node):
                    raise DistantError(f"--set {item!r}: {part!r} is not an index of a list of {len(node)} tables")
                node = node[int(part)]
                continue
            child = node.setdefault(part, {})
            if not isinstance(child, (dict, list)):
                raise DistantError(f"--set {item!r}: {part!r} is a value, not a section")
            node = child
        if not isinstance(node, dict):
            raise DistantError(f"--set {item!r}: expected a table to set {parts[-1]!r} in")
        node[parts[-1]] = _parse_value(raw.strip())
    return data


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str, path: Path | None, base: Path | None) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert what TOML cannot express (paths)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where, path, base)
            except DistantError as e:
                errors.append(e)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise DistantError(f"{where}: expected a table, found {value!r}", path)
        if hasattr(tp, "from_table"):  # a table whose keys depend on one of its values (a labeler's type)
            return tp.from_table(value, where=where, path=path, base=base)
        return build(tp, value, path=path, prefix=f"{where}.", base=base)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise DistantError(f"{where}: expected a list, found {value!r}", path)
        (arg,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(v, arg, f"{where}[{i}]", path, base) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise DistantError(f"{where}: expected a table, found {value!r}", path)
        return dict(value)
    if tp is Path:
        if not isinstance(value, str):
            raise DistantError(f"{where}: expected a path string, found {value!r}", path)
        p = Path(expand(value, where, path)).expanduser()
        if not p.is_absolute():
            p = Path.cwd() / p if isinstance(value, CommandLineText) or base is None else base / p
        return Path(os.path.normpath(p))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool) or tp in (int, float, str) and (
        not isinstance(value, tp) or isinstance(value, bool)
    ):
        raise DistantError(f"{where}: expected {_type_name(tp)}, found {value!r}", path)
    if tp is str:
        return str(expand(value, where, path))  # a plain str, never CommandLineText (checkpoints hold plain types only)
    return value


def build(cls: type[T], data: dict[str, Any], *, path: str | os.PathLike | None = None, prefix: str = "",
          base: Path | None = None) -> T:
    """Build the dataclass ``cls`` from ``data``; unknown keys and wrong types are :class:`DistantError`.

    Args:
        cls: A dataclass type; nested dataclass fields are built from sub-tables.
        data: The parsed TOML table.
        path: The config file, named in error messages.
        prefix: Dotted prefix of this table, for error messages.
        base: Folder that relative paths are resolved against (the config file's folder).
    """
    path = None if path is None else Path(path)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
            raise DistantError(
                f"unknown key '{prefix}{key}'{hint} (valid keys: {', '.join(sorted(fields))})", path
            )
        kwargs[key] = _coerce(value, hints[key], f"{prefix}{key}", path, base)
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise DistantError(f"{prefix.rstrip('.') or 'config'}: {e}", path) from None
    except ValueError as e:  # __post_init__ validation
        raise DistantError(str(e), path) from None


def check_range(key: str, value: float, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> None:
    """Raise ``ValueError`` (which :func:`build` turns into a :class:`DistantError`) unless ``value`` is in range.

    Args:
        key: The dotted key, for the message (``train.batch_size``).
        value: The value; a float must also be finite.
        low: Smallest allowed value (``None``: no bound); excluded when ``low_open``.
        high: Largest allowed value (``None``: no bound); excluded when ``high_open``.
    """
    bad = isinstance(value, float) and not math.isfinite(value)
    bad = bad or low is not None and (value <= low if low_open else value < low)
    bad = bad or high is not None and (value >= high if high_open else value > high)
    if bad:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        kind = "an integer" if isinstance(value, int) else "a number"
        raise ValueError(f"{key}: expected {kind} {' and '.join(parts)}, found {value!r}")


def to_dict(obj: Any) -> Any:
    """Turn a config dataclass back into plain TOML-able data (paths as strings, ``None`` dropped)."""
    if hasattr(obj, "to_table"):
        return to_dict(obj.to_table())
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if getattr(obj, f.name) is not None}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (Path, str)):
        return str(obj)
    return obj


def dump_toml(data: dict[str, Any]) -> str:
    """Serialise plain nested data (tables, lists, scalars; no ``None``) as TOML, with tomli-w."""
    import tomli_w

    return tomli_w.dumps(data)
