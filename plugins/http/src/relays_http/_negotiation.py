"""Content negotiation: which of the things we can send the client likes best.

Theory of operation
-------------------
``Accept`` and ``Accept-Encoding`` (RFC 9110 12.5) are comma-separated lists of
*preferences*: a value (``text/html``, ``gzip``) with optional ``;name=value``
parameters, one of which may be the weight ``q`` (0 to 1, three decimals at
most; 1 when absent; 0 means "not acceptable"). :func:`parse_preferences` reads
such a list leniently, as clients and proxies write it: an element it cannot read
(a bad weight, an empty value) is skipped rather than failing the request,
commas inside quoted parameter values are not separators, and it reads at most
:data:`MAX_PREFERENCES` elements, so a hostile field costs a bounded amount.

Choosing is the server's side: it offers what it can send, in its own order of
preference, and gets back the offer with the highest weight, ties going to the
earlier offer. :func:`choose_encoding` does it for content codings (``*`` stands
for every coding not named; ``identity``, always acceptable unless excluded, wins
only when the client weighs it at least as high as the best coding; ``x-gzip`` is
``gzip``), :func:`best_media_type` for media types, where the most
specific range that matches an offer sets its weight (``text/html;level=1`` over
``text/html`` over ``text/*`` over ``*/*``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

__all__ = [
    "MAX_PREFERENCES",
    "Preference",
    "best_media_type",
    "choose_encoding",
    "parse_preferences",
]

#: Most elements of one ``Accept``-style field that are read; the rest are ignored.
MAX_PREFERENCES = 64

_ALIASES = {"x-gzip": "gzip", "x-compress": "compress"}


@attrs.frozen
class Preference:
    """One element of an ``Accept``-style field: *value* (lower case), its
    parameters other than ``q`` (names lower case) and its weight *quality*."""

    value: str
    parameters: tuple[tuple[str, str], ...] = ()
    quality: float = 1.0


def _split(field: str, separator: str) -> list[str]:
    """*field* split on *separator* outside double-quoted strings."""
    parts: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for index, character in enumerate(field):
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == separator and not quoted:
            parts.append(field[start:index])
            start = index + 1
    parts.append(field[start:])
    return parts


def _quality(text: str) -> float | None:
    """The weight *text* spells (RFC 9110 12.4.2: ``0[.ddd]`` or ``1[.000]``), or None."""
    if not text or len(text) > 5 or text[0] not in "01":
        return None
    if len(text) > 1:
        if text[1] != "." or not all(c in "0123456789" for c in text[2:]):
            return None
        if text[0] == "1" and text[2:].strip("0"):
            return None
    return float(text) if len(text) != 2 else float(text[0])


def parse_preferences(field: str) -> list[Preference]:
    """The elements of an ``Accept``-style *field*, in order (see the theory of
    operation); never raises."""
    preferences: list[Preference] = []
    for element in _split(field, ",")[: MAX_PREFERENCES * 4]:
        if len(preferences) >= MAX_PREFERENCES:
            break
        pieces = _split(element, ";")
        value = pieces[0].strip().lower()
        if not value or any(c in value for c in ' \t"=') or not value.isprintable():
            continue
        quality = 1.0
        parameters: list[tuple[str, str]] = []
        valid = True
        for piece in pieces[1:]:
            name, equals, argument = piece.partition("=")
            name = name.strip().lower()
            argument = argument.strip()
            if not name or not equals:
                valid = False
                break
            if name == "q":
                weight = _quality(argument)
                if weight is None:
                    valid = False
                    break
                quality = weight
                break  # what follows q are accept-ext parameters: not compared
            if len(argument) >= 2 and argument[0] == argument[-1] == '"':
                argument = argument[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            parameters.append((name, argument))
        if valid:
            preferences.append(Preference(value, tuple(parameters), quality))
    return preferences


def choose_encoding(field: str | None, offered: Iterable[str]) -> str | None:
    """The content coding of *offered* (our order of preference) that the client's
    ``Accept-Encoding`` *field* weighs highest, or None for ``identity`` (no coding).

    A request without the field gets None: RFC 9110 allows any coding then, but a
    client that does not say it can decode one may well not.
    """
    if not field:
        return None
    weights: dict[str, float] = {}
    for preference in parse_preferences(field):
        coding = _ALIASES.get(preference.value, preference.value)
        weights.setdefault(coding, preference.quality)  # the first mention counts
    other = weights.get("*", 0.0)
    best: str | None = None
    best_weight = 0.0
    for coding in offered:
        weight = weights.get(coding, other)
        if weight > best_weight:
            best, best_weight = coding, weight
    if best is None:
        return None
    # identity is acceptable unless excluded, but not preferred to a coding the client
    # names unless it says so: "gzip;q=0.5" asks for gzip.
    identity = weights.get("identity", other)
    return best if best_weight >= identity else None


def _media_range(preference: Preference) -> tuple[str, str] | None:
    kind, slash, subtype = preference.value.partition("/")
    if not slash or not kind or not subtype or "/" in subtype:
        return None
    if kind == "*" and subtype != "*":
        return None
    return kind, subtype


def _parse_offer(offer: str) -> tuple[str, str, dict[str, str]]:
    parsed = parse_preferences(offer)
    if len(parsed) != 1 or _media_range(parsed[0]) is None:
        raise ValueError(f"{offer!r} is not a media type such as 'text/html'")
    kind, subtype = parsed[0].value.split("/")
    if "*" in (kind, subtype):
        raise ValueError(f"offer a concrete media type, not the range {offer!r}")
    return kind, subtype, dict(parsed[0].parameters)


def best_media_type(field: str | None, offered: Sequence[str]) -> str | None:
    """The media type of *offered* (our order of preference) the client's ``Accept``
    *field* weighs highest; None when it accepts none of them.

    Without the field every type is acceptable, so the first offer is chosen.
    Raises :class:`ValueError` for an offer that is not a media type.
    """
    offers = [_parse_offer(offer) for offer in offered]
    if not offers:
        return None
    if field is None or not field.strip():
        return offered[0]
    ranges = [
        (media_range, preference)
        for preference in parse_preferences(field)
        if (media_range := _media_range(preference)) is not None
    ]
    best: str | None = None
    best_weight = 0.0
    for offer, (kind, subtype, parameters) in zip(offered, offers, strict=True):
        specificity = -1
        weight = 0.0
        for (range_kind, range_subtype), preference in ranges:
            if range_kind == "*":
                rank = 0
            elif range_kind != kind:
                continue
            elif range_subtype == "*":
                rank = 1
            elif range_subtype != subtype:
                continue
            else:
                rank = 2
            if preference.parameters:
                if any(parameters.get(name) != value for name, value in preference.parameters):
                    continue
                rank += len(preference.parameters)
            if rank > specificity:
                specificity, weight = rank, preference.quality
        if weight > best_weight:
            best, best_weight = offer, weight
    return best
