"""One strict, generic loader from nested mappings (YAML, JSON, checkpoints) to nested dataclasses, and back.

Every structured record the project reads is a dataclass (training config sections, the model
config a checkpoint records, the deployed model's metadata); this module is the only code that
turns a mapping into one, so adding a field is one line on the dataclass, not four parsing
edits. It exists because a typo (``lerning_rate``) or a wrong type (``--set optim.lr=abc``) must
stop a run at start with one clear line, not train 25 epochs on a default or crash at the first
step:

* unknown keys are errors that name the closest valid key (``did you mean 'lr'?``);
* scalars are type-checked against the field annotation: ``int`` (not bool, not 1.5), ``float``
  (ints and numeric text such as YAML 1.1's ``1e-4`` string accepted and converted), ``bool`` (only true/false), ``str``, ``X | None``, ``tuple[T, ...]``,
  ``list[T]`` and ``dict``; nested dataclass fields recurse;
* numeric fields declared with :func:`disdepth_core.value_ranges.ranged` are range-checked
  (``optim.batch_size must be an integer >= 1, got 0``; NaN and infinities are refused);
* required fields (no default) missing from the mapping are errors naming their path;
* a dataclass's own ``__post_init__`` still runs, so per-section validation stays with the section;
* ``ignore_unknown=True`` is for records written by *newer* versions (artifact metadata read by
  an older runtime): unknown keys are dropped, known ones still type-checked.

Pure Python (no numpy, no torch): the node's runtime path reads artifact metadata with it.

Errors are :class:`ConfigError` (a ``ValueError``) whose message starts with the dotted key path.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, TypeVar

from .value_ranges import declared_range, range_problem

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value or key is invalid; the message names its dotted path."""


def closest_key(key: str, known: typing.Iterable[str]) -> str | None:
    """The known key most similar to ``key`` (for "did you mean" hints), or None."""
    matches = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_key_error(key: str, known: typing.Iterable[str], where: str) -> ConfigError:
    known = sorted(known)
    place = f"'{where}'" if where else "the top level"
    hint = closest_key(key, known)
    suggestion = f"; did you mean '{hint}'?" if hint else f"; valid keys: {', '.join(known)}"
    return ConfigError(f"unknown key '{key}' in {place}{suggestion}")


def load_dataclass(cls: type[T], data: Any, where: str = "", ignore_unknown: bool = False) -> T:
    """Build dataclass ``cls`` from mapping ``data`` strictly (see the module docstring)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping of keys to values, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    field_map = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in field_map and not ignore_unknown:
            raise unknown_key_error(key, field_map, where)
    kwargs: dict[str, Any] = {}
    for name, fld in field_map.items():
        path = f"{where}.{name}" if where else name
        if name not in data:
            if fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:  # type: ignore[misc]
                raise ConfigError(f"{path} is required but missing")
            continue
        kwargs[name] = convert_value(hints[name], data[name], path)
        bounds = declared_range(fld)
        problem = range_problem(path, kwargs[name], bounds) if bounds is not None else None
        if problem:
            raise ConfigError(problem)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or 'config'}: {err}") from err


def convert_value(annotation: Any, value: Any, path: str) -> Any:
    """Check ``value`` against a field annotation and return it in the annotated type."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{path} must not be empty (null)")
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return convert_value(option, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path} has an invalid value {value!r} ({'; '.join(errors)})")
    if dataclasses.is_dataclass(annotation):
        return load_dataclass(annotation, value, path)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path} must be true or false, got {_describe(value)}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{path} must be an integer, got {_describe(value)}")
    if annotation is float:
        number = _as_float(value)
        if number is None:
            raise ConfigError(f"{path} must be a number, got {_describe(value)}")
        if math.isnan(number):
            raise ConfigError(f"{path} must be a finite number, got nan")
        return number
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # names like "001" or a numeric run tag
        raise ConfigError(f"{path} must be a string, got {_describe(value)}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be a list, got {_describe(value)}")
        args = typing.get_args(annotation)
        item_type = args[0] if args else Any
        items = [convert_value(item_type, item, f"{path}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a mapping, got {_describe(value)}")
        return dict(value)
    return value  # unannotated/exotic types are passed through to the dataclass's own checks


def dataclass_to_dict(obj: Any) -> Any:
    """Plain YAML/JSON/checkpoint-safe form of a (nested) dataclass; tuples become lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dataclass_to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [dataclass_to_dict(item) for item in obj]
    if isinstance(obj, dict):
        return {key: dataclass_to_dict(value) for key, value in obj.items()}
    return obj


def _as_float(value: Any) -> float | None:
    """A number, or text that is one: YAML 1.1 reads ``1e-4`` (no dot) as a string, and users
    write learning rates exactly like that in files and in ``--set``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}' (text)"
    if value is None:
        return "nothing (null)"
    return f"{value!r} ({type(value).__name__})"
