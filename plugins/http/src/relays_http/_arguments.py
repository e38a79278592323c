"""Fitting path segments and form fields to a page's parameters, without a TypeError.

A page is called as ``page(*segments, **fields)``. Python would raise
:class:`TypeError` for a call that does not fit, which a server must never turn
into a 500: the client asked for a URL that does not exist, a 404. So each
page's signature is read once, when its class is created, into a
:class:`Signature`, and :meth:`Signature.bind` decides per request whether the
call fits and converts the values, returning ``None`` when it does not.

Conversions follow the annotations: ``int`` and ``float`` parameters get numbers
(a value that is not one does not fit), ``list[str]`` gets every value of a
repeated field, anything else gets the first value as a ``str`` (an uploaded
file as its :class:`~relays_http.UploadedFile`). A ``**kwargs`` parameter gets
a ``str`` for a field given once and a list for a repeated one.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["Signature"]

_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)


def _first(values: list[Any]) -> Any:
    return values[0]


def _every(values: list[Any]) -> Any:
    return values


def _number(kind: type) -> Callable[[list[Any]], Any]:
    def convert(values: list[Any]) -> Any:
        return kind(values[0])  # ValueError/TypeError: does not fit

    return convert


def _converter(annotation: Any) -> Callable[[list[Any]], Any]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        # ``int | None`` converts like ``int``: None can only be a default
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            annotation = members[0]
    elif isinstance(annotation, str) and annotation.replace(" ", "").endswith("|None"):
        annotation = annotation.replace(" ", "")[: -len("|None")]
    if annotation in (int, "int"):
        return _number(int)
    if annotation in (float, "float"):
        return _number(float)
    text = annotation if isinstance(annotation, str) else repr(annotation)
    if text.replace(" ", "") in ("list[str]", "list", "list[typing.Any]", "list[Any]"):
        return _every
    return _first


class Signature:
    """What a page accepts: positional segments, named fields, their conversions."""

    __slots__ = (
        "keywords",
        "max_positional",
        "positional",
        "required_keywords",
        "var_keyword",
        "var_positional",
    )

    def __init__(self, function: Callable[..., Any], *, bound: bool = False) -> None:
        try:
            signature = inspect.signature(function, eval_str=True)
        except Exception:  # an annotation that does not evaluate: read them as text
            signature = inspect.signature(function)
        parameters = list(signature.parameters.values())
        if not bound and parameters and parameters[0].kind in _POSITIONAL:
            parameters = parameters[1:]  # self
        #: ``(name or None for positional-only, converter, required)`` per positional slot.
        self.positional: list[tuple[str | None, Callable[[list[Any]], Any], bool]] = []
        #: Converter of each parameter a field may fill, by name.
        self.keywords: dict[str, Callable[[list[Any]], Any]] = {}
        #: Keyword-only parameters without a default.
        self.required_keywords: list[str] = []
        self.var_positional: Callable[[list[Any]], Any] | None = None
        self.var_keyword = False
        for parameter in parameters:
            convert = _converter(parameter.annotation)
            required = parameter.default is _P.empty
            if parameter.kind is _P.POSITIONAL_ONLY:
                self.positional.append((None, convert, required))
            elif parameter.kind is _P.POSITIONAL_OR_KEYWORD:
                self.positional.append((parameter.name, convert, required))
                self.keywords[parameter.name] = convert
            elif parameter.kind is _P.VAR_POSITIONAL:
                self.var_positional = convert
            elif parameter.kind is _P.KEYWORD_ONLY:
                self.keywords[parameter.name] = convert
                if required:
                    self.required_keywords.append(parameter.name)
            else:
                self.var_keyword = True
        self.max_positional = len(self.positional)

    def bind(
        self, segments: list[str], fields: dict[str, list[Any]] | None
    ) -> tuple[list[Any], dict[str, Any]] | None:
        """``(args, kwargs)`` for a call with *segments* and *fields*, or None."""
        count = len(segments)
        positional = self.positional
        if count > self.max_positional and self.var_positional is None:
            return None
        args: list[Any] = []
        try:
            for index, segment in enumerate(segments):
                if index < self.max_positional:
                    convert = positional[index][1]
                else:
                    convert = self.var_positional  # type: ignore[assignment]
                args.append(segment if convert is _first else convert([segment]))
            kwargs: dict[str, Any] = {}
            if fields:
                keywords = self.keywords
                for name, values in fields.items():
                    convert = keywords.get(name)  # type: ignore[assignment]
                    if convert is None or _filled(positional, count, name):
                        if not self.var_keyword:
                            return None
                        kwargs[name] = values[0] if len(values) == 1 else values
                    else:
                        kwargs[name] = convert(values)
        except (ValueError, TypeError, OverflowError):
            return None
        for slot_name, _, required in positional[count:]:
            if required and (slot_name is None or slot_name not in kwargs):
                return None
        for keyword in self.required_keywords:
            if keyword not in kwargs:
                return None
        return args, kwargs

    def explain(self, segments: list[str], fields: dict[str, list[Any]] | None) -> str:
        """Why :meth:`bind` refuses *segments* and *fields*: a sentence naming the
        parameter, for the log and for debug-mode 404 pages (the slow path only)."""
        count = len(segments)
        positional = self.positional
        if count > self.max_positional and self.var_positional is None:
            extra = "/".join(segments[self.max_positional :])
            return f"{count} path segment(s) for {self.max_positional} parameter(s): {extra!r}"
        for index, segment in enumerate(segments):
            if index < self.max_positional:
                name, convert, _ = positional[index]
            else:
                name, convert = "*args", self.var_positional  # type: ignore[assignment]
            if not _converts(convert, [segment]):
                return f"path segment {segment!r} does not fit parameter {name or index!r}"
        for name, values in (fields or {}).items():
            field_convert = self.keywords.get(name)
            if field_convert is None or _filled(positional, count, name):
                if not self.var_keyword:
                    if field_convert is not None:
                        return f"field {name!r} is given twice (as a path segment too)"
                    return f"field {name!r} is not a parameter of the page"
            elif not _converts(field_convert, values):
                return f"field {name!r} does not fit: {values[0]!r}"
        given = set(fields or ())
        for slot_name, _, required in positional[count:]:
            if required and (slot_name is None or slot_name not in given):
                return f"required parameter {slot_name!r} is missing"
        for keyword in self.required_keywords:
            if keyword not in given:
                return f"required parameter {keyword!r} is missing"
        return "the arguments fit"


def _converts(convert: Callable[[list[Any]], Any], values: list[Any]) -> bool:
    try:
        convert(values)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _filled(positional: list[tuple[str | None, Any, bool]], count: int, name: str) -> bool:
    """Whether a segment already fills parameter *name* (a field may not fill it twice)."""
    return any(slot_name == name for slot_name, _, _ in positional[:count])
