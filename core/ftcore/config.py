"""Typed configs for every ftkit command: dataclass defaults, then a YAML file, then `--set` flags.

A config is a dataclass whose fields carry a default and a one-line `help` in their metadata.
Unknown keys and wrong types are errors that name the file and the key; nothing is guessed.

Usage:
    config = load_config(ProjectConfig, "ftdata.yaml", overrides=["lint.max_seq_len=4096"])
    write_config(config, "exports/v3/ftdata.resolved.yaml")
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from ftcore.atomic import atomic_write
from ftcore.errors import FtdataError

T = TypeVar("T")

_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(FtdataError):
    """A config file or override is malformed; the message names the file and the key."""


def option(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with its default and the one-line reason it exists (shown by `init` files)."""
    if isinstance(default, dict | list) or dataclasses.is_dataclass(default):
        # Mutable defaults are copied per instance, never shared.
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help}, **kwargs)
    return dataclasses.field(default=default, metadata={"help": help}, **kwargs)


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> T:
    """Build `cls` from its defaults, the YAML at `path` (if any), then `key.sub=value` overrides."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        data = read_yaml_mapping(path)
    expand_shorthands(cls, data)  # so that `--set base_model.gguf_file=...` finds a section to set into
    for override in overrides:
        key, sep, raw_value = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {override!r}: expected key=value, e.g. lint.max_seq_len=4096")
        _set_dotted(data, key.strip(), _parse_scalar(raw_value), f"--set {override!r}")
    return build(cls, data, source)


def resolve_paths(config: Any, path: str | os.PathLike, keys: tuple[str, ...], model_key: str | None = None) -> None:
    """Make `keys` of `config` absolute, relative to the folder of the file it was loaded from; the `path` of the
    model section `model_key` likewise only when that folder holds it (otherwise it is a hub id, kept as written)."""
    folder = os.path.dirname(os.path.abspath(path))
    for key in keys:
        value = getattr(config, key)
        if value and not os.path.isabs(value):
            setattr(config, key, os.path.normpath(os.path.join(folder, value)))
    model = getattr(config, model_key) if model_key else None
    if model is not None and model.path:
        model.path = local_or_hub(model.path, folder)


def local_or_hub(name: str, folder: str | os.PathLike) -> str:
    """`name` as an absolute path when `folder` holds it, else as written (a hub id, or a path that is not there)."""
    local = os.path.join(folder, name)
    if not os.path.isabs(name) and os.path.exists(local):
        return os.path.normpath(local)
    return name


def read_yaml_mapping(path: str | os.PathLike) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: unreadable: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]  # a ReaderError has no `problem`
        raise ConfigError(f"{where}: not valid YAML: {' '.join(str(reason).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    except ValueError as error:  # valid YAML that Python cannot hold: a date 2024-13-45, a 5,000-digit integer
        raise ConfigError(f"{path}: unusable YAML value: {str(error).split(';')[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top, got {type(data).__name__}")
    return data


def build(cls: type[T], data: dict[str, Any], source: str, prefix: str = "", root: dict | None = None) -> T:
    """Instantiate dataclass `cls` from a mapping, checking every key and type.

    A config class can name keys it no longer has in a `MOVED` class attribute ({old key: new dotted key}):
    such a key is an error saying exactly what to write instead. A key that `cls` lists in its `RETIRED`
    (key -> why it went) is skipped when its value is null, as an `init` file of an older version wrote it,
    and refused with the reason otherwise. A class can refuse keys it has (inherited from a shared section) but
    takes from elsewhere in the config: `SET_ELSEWHERE` (key -> the setting to use instead).
    """
    root = data if root is None else root
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    moved = getattr(cls, "MOVED", {})
    retired: dict[str, str] = getattr(cls, "RETIRED", {})
    elsewhere: dict[str, str] = getattr(cls, "SET_ELSEWHERE", {})
    for key in data:
        if key in elsewhere:
            raise ConfigError(f"{source}: {prefix}{key}: not set here: set {elsewhere[key]} instead")
    for key, value in list(data.items()):
        if key in retired and key not in fields:
            if value is not None:
                raise ConfigError(f"{source}: {prefix}{key}: no longer a setting ({retired[key]}): delete it")
            data = {k: v for k, v in data.items() if k != key}
    for key in data:
        if key in moved and key not in fields:
            raise ConfigError(f"{source}: {prefix}{key}: {_moved_hint(moved[key], data[key], root)}")
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(fields)})"
            shown = key if isinstance(key, str) and key.isprintable() else repr(key)  # the error stays one line
            raise ConfigError(f"{source}: {prefix}{shown}: unknown key{hint}")
    values = {
        name: _coerce(hints[name], data[name], source, f"{prefix}{name}", root) for name in fields if name in data
    }
    try:
        instance = cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: {prefix.rstrip('.') or cls.__name__}: {error}") from None
    return instance


def to_dict(config: Any) -> dict[str, Any]:
    """A config as plain YAML/JSON-able data (paths as strings)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(config))


def write_config(config: Any, path: str | os.PathLike) -> Path:
    """Save the resolved config beside a command's outputs, so every result says how it was made."""
    with atomic_write(path) as handle:
        yaml.safe_dump(to_dict(config), handle, sort_keys=False, allow_unicode=True)
    return Path(path)


def commented_yaml(config: Any, indent: int = 0) -> str:
    """A config as YAML with each field's help as a comment above it (what `init` writes)."""
    lines: list[str] = []
    pad = " " * indent
    for f in dataclasses.fields(config):
        help_text = f.metadata.get("help")
        if help_text:
            lines.append(f"{pad}# {help_text}")
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{f.name}:")
            lines.append(commented_yaml(value, indent + 2).rstrip("\n"))
        else:
            plain = str(value) if isinstance(value, Path) else value
            dumped = yaml.safe_dump({f.name: plain}, sort_keys=False, allow_unicode=True)
            lines.extend(pad + line for line in dumped.rstrip("\n").splitlines())
    return "\n".join(lines) + "\n"


def _moved_hint(new_key: str, value: Any, root: dict[str, Any]) -> str:
    """E.g. "moved to base_model.gguf_file: write base_model: {path: models/x, gguf_file: x.gguf}"."""
    section, _, name = new_key.partition(".")
    current = root.get(section)
    mapping = dict(current) if isinstance(current, dict) else ({"path": current} if isinstance(current, str) else {})
    mapping[name] = value
    flow = yaml.safe_dump({section: mapping}, default_flow_style=True, sort_keys=False, width=10_000).strip()
    return f"moved to {new_key}: write {flow.removeprefix('{').removesuffix('}')}"


def expand_shorthands(cls: type, data: dict[str, Any]) -> None:
    """A string where a section with a `SHORTHAND` field is expected becomes {that field: the string}."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, value = hints[f.name], data.get(f.name)
        options = [a for a in get_args(tp) if a is not type(None)] or [tp]
        section = next((a for a in options if dataclasses.is_dataclass(a)), None)
        if section is None:
            continue
        shorthand = getattr(section, "SHORTHAND", None)
        if shorthand and isinstance(value, str):
            data[f.name] = {shorthand: value}
        elif isinstance(value, dict):
            expand_shorthands(section, value)


def _coerce(tp: Any, value: Any, source: str, key: str, root: dict[str, Any] | None = None) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option_type in options:
            try:
                return _coerce(option_type, value, source, key, root)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: {key}: must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        shorthand = getattr(tp, "SHORTHAND", None)
        if shorthand and isinstance(value, str):  # `base_model: org/model` for `base_model: {path: org/model}`
            value = {shorthand: value}
        if not isinstance(value, dict):
            expected = f"a mapping or a string (its {shorthand})" if shorthand else "a mapping"
            raise ConfigError(f"{source}: {key}: expected {expected}, got {_kind(value)}")
        return build(tp, value, source, prefix=f"{key}.", root=root)
    if origin in (list, Sequence, tuple) or tp in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key}: expected a list, got {_kind(value)}")
        item_type = args[0] if args else Any
        items = [_coerce(item_type, item, source, f"{key}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key}: expected a mapping, got {_kind(value)}")
        value_type = args[1] if args else Any
        return {str(k): _coerce(value_type, v, source, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
            value = float(value)  # 1e-7: a number in JSON and YAML 1.2, a string to PyYAML (YAML 1.1 wants 1.0e-7)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {key}: expected a number, got {value!r}")
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ConfigError(f"{source}: {key}: number too large") from None
    if tp is str or tp is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key}: expected a {'string' if tp is str else 'path'}, got {value!r}")
        if "\x00" in value:  # no path, model id or prompt holds one; os calls reject it with a bare ValueError
            raise ConfigError(f"{source}: {key}: contains a NUL character (\\x00)")
        return value if tp is str else Path(value)
    raise ConfigError(f"{source}: {key}: unsupported config type {tp!r}")  # a bug in a config class


def _parse_scalar(raw: str) -> Any:
    """A `--set` value is read as YAML, so `4096` is a number, `true` a bool, `[a, b]` a list."""
    try:
        return yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError, RecursionError):  # ValueError: e.g. 2024-13-45, read as a date
        return raw


def _set_dotted(data: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
