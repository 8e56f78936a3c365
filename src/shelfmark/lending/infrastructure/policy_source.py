"""Loads the lending policy: the built-in preset, overridden key by key by a TOML file."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from pydantic import TypeAdapter, ValidationError

from shelfmark.lending.domain.policies import LendingPolicy

PRESETS = ("public_library",)


class PolicyFileError(Exception):
    """The policy cannot be used; the message says which key and why."""


def _preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise PolicyFileError(f"unknown policy preset {name!r}; known: {', '.join(PRESETS)}")
    text = resources.files(__package__).joinpath(f"presets/{name}.toml").read_text()
    return tomllib.loads(text)


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`; tables merge key by key, anything else replaces."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def unknown_keys(value: Any, hint: Any, path: str = "") -> Iterator[str]:
    """Keys the policy does not have (a typo must not silently fall back to the preset)."""
    if not isinstance(value, dict):
        return
    if dataclasses.is_dataclass(hint):
        hints = get_type_hints(hint)
        for key, item in value.items():
            if key in hints:
                yield from unknown_keys(item, hints[key], f"{path}{key}.")
            else:
                yield f"{path}{key}"
    elif get_origin(hint) is dict:
        _, item_hint = get_args(hint)
        for key, item in value.items():
            yield from unknown_keys(item, item_hint, f"{path}{key}.")


def validated(document: dict[str, Any]) -> LendingPolicy:
    unknown = list(unknown_keys(document, LendingPolicy))
    if unknown:
        raise PolicyFileError(f"invalid lending policy: unknown keys {', '.join(unknown)}")
    try:
        return TypeAdapter(LendingPolicy).validate_python(document, strict=False)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in error.errors()
        )
        raise PolicyFileError(f"invalid lending policy: {problems}") from None


def load_policy(file: Path | None) -> LendingPolicy:
    """The preset the file names (default public_library) with the file's keys on top."""
    override: dict[str, Any] = {}
    if file is not None:
        try:
            override = tomllib.loads(file.read_text())
        except OSError as error:
            raise PolicyFileError(f"cannot read policy file {file}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise PolicyFileError(f"policy file {file} is not valid TOML: {error}") from None
    preset = str(override.pop("preset", "public_library"))
    return validated(merged(_preset(preset), override))
