"""Validate TOML data against the pydantic models and say what is wrong in the policy's own terms.

Validation runs in pydantic's strict JSON mode: TOML arrays and strings map onto JSON arrays and
strings (so `mode = "supervised"` is a valid enum value) while no value is ever coerced (`"45"` is
not a number, `45.0` is not a whole number). TOML has no null, so a None in the data can only be
a value JSON cannot carry (a date, a time, nan or inf); it is named as such in messages.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from policies._keylines import KeyPath
from policies._source import IssueLog, SourceFile

M = TypeVar("M", bound=BaseModel)

_BAND_PATTERN_MARK = "(K|[0-9]{1,2})"
_ARGON2_PATTERN_MARK = "argon2id"
_PROCESS_PATTERN_MARK = "[A-Za-z]:"


def validate(
    model: type[M],
    data: Any,
    *,
    source: SourceFile,
    prefix: KeyPath,
    log: IssueLog,
    renames: Mapping[str, str] | None = None,
) -> M | None:
    """`model` built from `data`, or None after logging each problem at `prefix` + its key path.

    `renames` maps model field names to the TOML key that feeds them (`bands` <- `band`), for
    messages at the top of `data`.
    """
    renames = renames or {}
    try:
        return model.model_validate_json(json.dumps(_jsonable(data)))
    except ValidationError as exc:
        errors = exc.errors()
        inner = [tuple(e["loc"]) for e in errors]
        for error in errors:
            loc = tuple(error["loc"])
            if error["type"] == "too_short" and any(
                len(other) > len(loc) and other[: len(loc)] == loc for other in inner
            ):
                continue  # pydantic also counts the invalid items as missing; say it once
            if loc and isinstance(loc[0], str):
                loc = (renames.get(loc[0], loc[0]), *loc[1:])
            message, hint = _describe(model, error, (*prefix, *loc), renames)
            log.add(source, (*prefix, *loc), message, hint)
    except (RecursionError, ValueError):
        log.add(source, prefix, "is nested too deeply", "flatten the structure")
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date | time):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _describe(
    root: type[BaseModel], error: ErrorDetails, path: KeyPath, renames: Mapping[str, str]
) -> tuple[str, str]:
    kind = error["type"]
    loc = tuple(error["loc"])
    key = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
    value = _show(error.get("input"))
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":  # the JSON is ours, so only its depth can be wrong
        return "nests arrays or tables too deeply", "flatten the structure"
    if kind == "missing":
        return f"required key '{key}' is missing", f"add `{key} = ...` here"
    if kind == "extra_forbidden":
        allowed = [renames.get(name, name) for name in _fields_at(root, loc[:-1])]
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else ""
        return f"unknown key '{key}'", hint or f"allowed keys here: {', '.join(sorted(allowed))}"
    if kind in ("string_type", "str_type"):
        return f"{value} should be text", f'put it in quotes: {key} = "..."'
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return (
            f"{value} should be a whole number",
            f"write it without quotes or decimals: {key} = 45",
        )
    if kind in ("tuple_type", "list_type"):
        if _items_are_tables(root, loc):
            header = ".".join(p for p in path if isinstance(p, str))
            return (
                f"{value} should be a list of tables",
                f"write each entry as a [[{header}]] table",
            )
        return f"{value} should be an array", f'write it like {key} = ["...", "..."]'
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{value} should be a table", "give it keys, e.g. as a [[...]] table section"
    if kind == "enum":
        return f"{value} is not allowed here", f"use one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if _BAND_PATTERN_MARK in pattern:
            return f"{value} is not a grade band", 'write it like "K-2" or "3-5"'
        if _ARGON2_PATTERN_MARK in pattern:
            return (
                f"{value} is not an argon2id hash",
                "make one with `lessongate-agent hash-code` (never write the code itself)",
            )
        if _PROCESS_PATTERN_MARK in pattern:
            return (
                f"{value} is not a program name or an absolute path",
                'write a name like "tor" or "psiphon*", or a path like "/opt/*/tor"',
            )
        return f"{value} is not a valid id", "use letters, digits and . _ : - only"
    if kind == "string_too_short":
        return "must not be empty", "fill it in or remove the key"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)", "shorten it"
    if kind == "too_short":
        header = ".".join(p for p in path if isinstance(p, str))
        return "must have at least one entry", f"add a [[{header}]] table"
    msg = str(error.get("msg", "is invalid")).replace("Input should", "should")
    return f"{value} {msg}" if value else msg, ""


def _show(value: Any) -> str:
    if value is None:
        return "a date, time or non-finite number"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = _model_type(info.annotation)
    return model


def _model_type(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _fields_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    model = _model_at(root, loc)
    return list(model.model_fields) if model is not None else []


def _items_are_tables(root: type[BaseModel], loc: tuple[int | str, ...]) -> bool:
    return _model_at(root, loc) is not None
