"""JSON parsing and the cattrs hooks both dialects' converters share."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import attrs
import cattrs
from cattrs._compat import is_optional
from yarl import URL

from ._http import HttpResponse
from .layout import VideoLayout
from .status import CompositionStatus

__all__ = ["ModelHooks", "load_json", "make_converter", "parse_datetime"]

T = typing.TypeVar("T")


_loads: Callable[[bytes], Any]
try:  # orjson parses pages faster than json; it is optional (the `speed` extra).
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - exercised by a test that hides orjson
    _loads = json.loads


def load_json(response: HttpResponse) -> Any:
    """Parse a response body as JSON, or raise ResponseDecodeError quoting its start."""
    try:
        return _loads(response.body)
    except (ValueError, UnicodeDecodeError) as exc:
        message = f"HTTP {response.status} body is not valid JSON ({exc})"
    raise response.decode_error(message)


class ModelHooks:
    """A dialect's converter and its model hooks, generated once, on first use.

    Building them at import would put the code generation on every ``import
    async_compositions``; clients warm them when they are constructed instead. Once built,
    ``structure`` and ``unstructure_region`` are the generated functions themselves (plain
    attributes, read once per record on the hot path), not properties in front of them.
    """

    __slots__ = ("_model", "_region", "structure", "unstructure_region")

    def __init__(self, model: type, region: type) -> None:
        self._model = model
        self._region = region
        #: Dict to model.
        self.structure: Callable[[Any, Any], Any] = self._first_structure
        #: Layout region to dict.
        self.unstructure_region: Callable[[Any], Any] = self._first_unstructure

    def _build(self) -> None:
        conv = make_converter()
        self.structure = conv.get_structure_hook(self._model)
        self.unstructure_region = conv.get_unstructure_hook(self._region)

    def _first_structure(self, value: Any, cls: Any) -> Any:
        self._build()
        return self.structure(value, cls)

    def _first_unstructure(self, value: Any) -> Any:
        self._build()
        return self.unstructure_region(value)

    def warm(self) -> None:
        """Generate the hooks now (a client does this when it is built)."""
        if self.structure == self._first_structure:
            self._build()


def parse_datetime(value: Any, _: object = None) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    if value.__class__ is str:
        parsed = datetime.fromisoformat(value)
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    zone = parsed.tzinfo
    if zone is UTC:  # "...Z" and "+00:00" parse to UTC itself: the common case
        return parsed
    if zone is None:
        return parsed.replace(tzinfo=UTC)
    if parsed.utcoffset():
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            # 9999-12-31T23:59:59-05:00 is a valid timestamp with no UTC datetime.
            raise ValueError(f"timestamp {value!r} is outside the datetime range in UTC") from None
    return parsed.replace(tzinfo=UTC)


def _parse_date(value: Any, _: object = None) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise TypeError(f"expected an ISO-8601 date string, got {type(value).__name__}")


def _parse_url(value: Any, _: object = None) -> URL:
    if isinstance(value, str):
        return URL(value, encoded=True)
    raise TypeError(f"expected a URL string, got {type(value).__name__}")


_STATUSES: dict[Any, CompositionStatus] = {s.value: s for s in CompositionStatus}


def _parse_status(value: Any, _: object = None) -> CompositionStatus:
    # A dict lookup for the known values; the enum call (and its fallback) for the rest.
    return _STATUSES.get(value) or CompositionStatus(value)


def _structure_str_dict(value: Any, _: object = None) -> dict[str, str]:
    """``dict[str, str]`` (Twilio's links): a JSON object of strings, kept as it is."""
    if value.__class__ is not dict:
        raise TypeError(f"expected an object, got {type(value).__name__}")
    for key, item in value.items():
        if item.__class__ is not str:
            raise TypeError(f"expected a string for {key!r}, got {_json_type(item)}")
    return value


def _parse_float(value: Any, _: object = None) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a bool")
    return float(value)


def _parse_int(value: Any, _: object = None) -> int:
    # Providers have sent integer fields as strings ("64") or floats (64.0).
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            # int() would silently drop the fraction: a wrong value is worse than an error.
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    return int(value)


def _parse_bool(value: Any, _: object = None) -> bool:
    # Registered explicitly: bool subclasses int, so the int hook would otherwise claim it.
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _structure_str(value: Any, _: object = None) -> str:
    # A number may stand for text (an id sent as 64); null, booleans, objects and arrays
    # never do: str() would invent "None", "False" or a Python repr.
    if value.__class__ is str:
        return value
    if value.__class__ in (int, float):
        return str(value)
    raise TypeError(f"expected a string, got {_json_type(value)}")


def _plain_list_hook(kind: type) -> Callable[[Any, Any], list[Any]]:
    """``list[str]`` / ``list[int]``: a JSON list already of that type is kept as it is."""

    def structure_list(value: Any, _: object = None) -> list[Any]:
        if value.__class__ is not list:
            raise TypeError(f"expected a list, got {type(value).__name__}")
        for item in value:
            if item.__class__ is not kind:
                return [_PLAIN[kind](v) for v in value]
        return value

    return structure_list


def _optional_hook_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """Resolve the inner hook of ``X | None`` once, not on every value (cattrs' default).

    Values already of the plain JSON type (most of them) are returned without a call.
    """

    def factory(union: Any) -> Callable[[Any, Any], Any]:
        inner = _inner(union)
        hook = conv.get_structure_hook(inner)
        if inner in (str, int, float):

            def structure_plain(value: Any, _: object = None) -> Any:
                if value is None or value.__class__ is inner:
                    return value
                return hook(value, inner)

            return structure_plain

        def structure_optional(value: Any, _: object = None) -> Any:
            return None if value is None else hook(value, inner)

        return structure_optional

    return factory


_PLAIN: dict[type, Callable[[Any], Any]] = {str: _structure_str, int: _parse_int}


def _fast_attrs_factory(
    conv: cattrs.Converter, forbid_extra_keys: bool
) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """Generate one structuring function per attrs model, compiled once.

    Unlike cattrs' generated code, a value that already has the field's plain JSON type
    (str, int, float, bool) is passed through inline instead of through a hook call, and
    ``null`` on a field with a default takes the default; ``null`` or a missing key on a
    required field raises. Other values go through the converter's hooks, so types are
    still checked and converted. ``forbid_extra_keys`` adds one check of the record's keys
    in front of the same code.
    """

    def factory(cls: Any) -> Callable[[Any, Any], Any]:
        hints = typing.get_type_hints(cls)
        namespace: dict[str, Any] = {
            "__cl": cls,
            "__missing": _missing_field,
            "__null": _null_field,
            "__extra": _extra_keys,
            "__known": frozenset(f.name for f in attrs.fields(cls)),
        }
        args: list[str] = []
        direct = _plain_slots(cls)
        for i, field in enumerate(attrs.fields(cls)):
            name, hint = field.name, hints[field.name]
            optional = is_optional(hint)
            inner = _inner(hint) if optional else hint
            namespace[f"__h{i}"] = conv.get_structure_hook(inner)
            namespace[f"__t{i}"] = inner
            convert = f"__h{i}(__v, __t{i})"
            if inner in (str, int, float, bool):
                namespace[f"__k{i}"] = inner
                convert = f"(__v if __v.__class__ is __k{i} else {convert})"
            default = field.default
            if default is attrs.NOTHING:
                got = f"(__v := g({name!r}, __missing))"
                absent = f"__missing(__cl, {name!r})"
                if optional:
                    expr = (
                        f"(None if {got} is None else {absent} if __v is __missing else {convert})"
                    )
                else:
                    null = f"__null(__cl, {name!r})"
                    expr = (
                        f"({absent} if {got} is __missing else {null} if __v is None "
                        f"else {convert})"
                    )
            elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                namespace[f"__d{i}"] = default.factory
                expr = f"(__d{i}() if (__v := g({name!r})) is None else {convert})"
            else:
                namespace[f"__d{i}"] = default
                expr = f"(__d{i} if (__v := g({name!r})) is None else {convert})"
            if direct:
                namespace[f"__s{i}"] = cls.__dict__[name].__set__
                args.append(f"    __s{i}(self, {expr})")
            else:
                args.append(f"        {field.alias}={expr},")
        check = []
        if forbid_extra_keys:
            check.append("    if o.keys() - __known: __extra(__cl, o, __known)")
        # One bound method for every key: ``o.get`` is looked up once, not per field.
        check.append("    g = o.get")
        if direct:
            lines = [*check, "    self = __new(__cl)", *args, "    return self"]
            namespace["__new"] = object.__new__
        else:
            lines = [*check, "    return __cl(", *args, "    )"]
        source = "\n".join(["def structure(o, _=None):", *lines])
        exec(compile(source, f"<structure {cls.__module__}.{cls.__qualname__}>", "exec"), namespace)
        return namespace["structure"]  # type: ignore[no-any-return]

    return factory


def _plain_slots(cls: Any) -> bool:
    """True when ``__init__`` only stores each field: the hook may fill the slots itself.

    Filling the slots directly skips building a keyword-argument call per record, a large
    share of a model's construction time, and the argument tuples CPython would keep
    cached after a long stream.
    """
    if not attrs.has(cls) or "__slots__" not in cls.__dict__:
        return False
    if any(hasattr(cls, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")):
        return False
    fields = attrs.fields(cls)
    # Any other slot (a cached hash, say) is something ``__init__`` would have set.
    if set(cls.__dict__["__slots__"]) - {"__weakref__"} != {f.name for f in fields}:
        return False
    for field in fields:
        if not field.init or field.validator is not None or field.converter is not None:
            return False
        if type(cls.__dict__.get(field.name)).__name__ != "member_descriptor":
            return False
    return True


def _inner(hint: Any) -> Any:
    """``X`` from ``X | None``."""
    return next(arg for arg in typing.get_args(hint) if arg is not type(None))


def _missing_field(cls: type, name: str) -> Any:
    raise KeyError(f"{cls.__name__} requires {name!r}")


def _null_field(cls: type, name: str) -> Any:
    raise ValueError(f"{cls.__name__} requires {name!r}, got null")


def _extra_keys(cls: type, record: dict[str, Any], known: frozenset[str]) -> Any:
    raise cattrs.ForbiddenExtraKeysError(None, cls, set(record.keys() - known))


def _layout_hook_factory(
    conv: cattrs.Converter, eager: bool
) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """``VideoLayout[Region]``: check the shape now, decode each region when it is read."""

    def factory(layout_type: Any) -> Callable[[Any, Any], Any]:
        (region_type,) = typing.get_args(layout_type)
        region_hook = conv.get_structure_hook(region_type)

        def decode(raw: Any) -> Any:
            if raw.__class__ is not dict:
                raise TypeError(f"a region must be an object, got {type(raw).__name__}")
            return region_hook(raw, region_type)

        def structure_layout(value: Any, _: object = None) -> VideoLayout[Any]:
            if value.__class__ is not dict:
                raise TypeError(f"video_layout must be an object, got {type(value).__name__}")
            layout = VideoLayout(value, decode)
            return layout.materialize() if eager else layout

        return structure_layout

    return factory


def _is_layout(type_: Any) -> bool:
    return bool(typing.get_origin(type_) is VideoLayout)


def make_converter(*, forbid_extra_keys: bool = False) -> cattrs.Converter:
    """A converter with the hooks every dialect needs; unknown keys are ignored.

    ``forbid_extra_keys=True`` gives the strict variant tests use to catch API drift: the
    same generated code, plus a check that raises on a response key the models lack.
    """
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys, detailed_validation=False)
    conv.register_structure_hook_factory(
        lambda t: is_optional(t) and len(typing.get_args(t)) == 2, _optional_hook_factory(conv)
    )
    conv.register_structure_hook_factory(attrs.has, _fast_attrs_factory(conv, forbid_extra_keys))
    # The strict variant decodes every region at once, so drift inside a region fails too.
    conv.register_structure_hook_factory(
        _is_layout,
        _layout_hook_factory(conv, eager=forbid_extra_keys),
    )
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook_func(lambda t: t == list[str], _plain_list_hook(str))
    conv.register_structure_hook_func(lambda t: t == list[int], _plain_list_hook(int))
    conv.register_structure_hook_func(lambda t: t == dict[str, str], _structure_str_dict)
    conv.register_structure_hook(datetime, parse_datetime)
    conv.register_structure_hook(date, _parse_date)
    conv.register_structure_hook(URL, _parse_url)
    conv.register_structure_hook(CompositionStatus, _parse_status)
    conv.register_structure_hook(float, _parse_float)
    conv.register_structure_hook(int, _parse_int)
    conv.register_structure_hook(bool, _parse_bool)
    conv.register_unstructure_hook(URL, str)
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    return conv
