"""upshift plugins in Python: the same shape as the Rust SDK (`upshift-sdk`), for componentize-py.

A plugin is a class with plain methods; this module turns it into the exports of a contract
world (`verifier-plugin` or `target-plugin` of `wit/`, contract 0.2.0), parses the spec's JSON
config into a dict (or the dataclass you name, which refuses unknown keys), answers the host's
`validate-config` and `config-schema`, and turns exceptions into the contract's typed errors:

    import upshift_plugin as up

    class MaxErrors:
        def verify(self, check, config):
            ...
            return up.Verdict.fail("3 errors").measure("errors", 3, "count")

    Verifier = up.export_verifier(MaxErrors, config=Config)   # the name componentize-py looks for

Build with `componentize-py -d WIT -w verifier-plugin componentize -p SDK_PYTHON -p . app -o x.wasm`
(`examples/python-verifier/README.md` walks through it).

Host services, wrapped: `log.info(message, **fields)` (and debug, warn, error), `state.get/set/
remove/keys` (the plugin's durable key-value state in this rollout), `clock.now_millis()`. A
plugin that needs files, SQL, the network or environment variables must declare them
(`upshift plugin declare`) and the spec must grant them; nothing else is reachable.
"""

import dataclasses
import json
import traceback
from typing import Any, Callable, Optional

from componentize_py_types import Err


class PluginError(Exception):
    """A typed failure: `kind` is one of the contract's error kinds; `retryable` says whether
    calling again may help."""

    KINDS = ("invalid-config", "unavailable", "denied", "conflict", "internal")

    def __init__(self, kind: str, message: str, retryable: bool = False):
        if kind not in self.KINDS:
            raise ValueError(f"unknown error kind {kind!r}: use one of {', '.join(self.KINDS)}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable

    @classmethod
    def invalid_config(cls, message: str) -> "PluginError":
        return cls("invalid-config", message)

    @classmethod
    def unavailable(cls, message: str) -> "PluginError":
        return cls("unavailable", message, retryable=True)

    @classmethod
    def conflict(cls, message: str) -> "PluginError":
        return cls("conflict", message)

    @classmethod
    def internal(cls, message: str) -> "PluginError":
        return cls("internal", message)


def _wit_error(e: BaseException) -> Err:
    from wit_world.imports import types

    if isinstance(e, PluginError):
        kind = types.ErrorKind[e.kind.upper().replace("-", "_")]
        return Err(types.PluginError(kind=kind, message=e.message, retryable=e.retryable))
    # A bug in the plugin: the exception and where it was raised, as one error.
    where = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    at = f" at {where[0].filename}:{where[0].lineno}" if where else ""
    message = f"{type(e).__name__}: {e}{at}"
    return Err(types.PluginError(kind=types.ErrorKind.INTERNAL, message=message, retryable=False))


def _call(f: Callable[[], Any]) -> Any:
    """Runs `f`, turning any exception into the contract's error."""
    try:
        return f()
    except Err:
        raise
    except BaseException as e:  # noqa: BLE001 - every failure must reach the host typed
        raise _wit_error(e) from None


class Verdict:
    """A judgement: `Verdict.pass_`, `Verdict.fail` or `Verdict.inconclusive` (never counted as a
    pass), with a one-line reason and measurements (`.measure(name, value, unit)`)."""

    def __init__(self, outcome: str, reason: str):
        self.outcome = outcome
        self.reason = reason
        self.measurements: list = []

    @classmethod
    def pass_(cls, reason: str) -> "Verdict":
        return cls("pass", reason)

    @classmethod
    def fail(cls, reason: str) -> "Verdict":
        return cls("fail", reason)

    @classmethod
    def inconclusive(cls, reason: str) -> "Verdict":
        return cls("inconclusive", reason)

    def measure(self, name: str, value: float, unit: Optional[str] = None) -> "Verdict":
        self.measurements.append((name, float(value), unit or None))
        return self

    def _wit(self):
        from wit_world.imports import types

        return types.Verdict(
            outcome=types.Outcome[self.outcome.upper()],
            reason=self.reason,
            measurements=[types.Measurement(name=n, value=v, unit=u) for n, v, u in self.measurements],
        )


def parse_config(text: str, config: Optional[type]) -> Any:
    """The spec's config: a dict, or an instance of the dataclass `config` (unknown keys and
    missing fields are `invalid-config` errors naming them)."""
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as e:
        raise PluginError.invalid_config(f"the config is not JSON: {e}") from None
    if config is None:
        return value
    if not isinstance(value, dict):
        raise PluginError.invalid_config("the config must be a table")
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(value) - fields)
    if unknown:
        raise PluginError.invalid_config(f"unknown field {unknown[0]!r}: expected one of {', '.join(sorted(fields))}")
    try:
        return config(**value)
    except TypeError as e:
        raise PluginError.invalid_config(str(e)) from None


def _schema(config: Optional[type]) -> str:
    """A JSON Schema of a dataclass config: its fields, types and defaults ("" for a dict)."""
    if config is None:
        return ""
    kinds = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object"}
    properties, required = {}, []
    for f in dataclasses.fields(config):
        prop = {}
        if f.type in kinds:
            prop["type"] = kinds[f.type]
        if f.default is not dataclasses.MISSING:
            prop["default"] = f.default
        elif f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        if f.metadata.get("doc"):
            prop["description"] = f.metadata["doc"]
        properties[f.name] = prop
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return json.dumps(schema)


def _parser(plugin: Any, config: Optional[type]) -> Callable[[str], Any]:
    """Parses a config's JSON text for `plugin`, then runs its own `check_config`, if it has one."""

    def parsed(text: str) -> Any:
        value = parse_config(text, config)
        if hasattr(plugin, "check_config"):
            plugin.check_config(value)
        return value

    return parsed


def export_verifier(cls: type, config: Optional[type] = None) -> type:
    """The `Verifier` class componentize-py exports, from a class with `verify(check, config)`
    returning a `Verdict` (and optionally `check_config(config)`)."""
    from wit_world import exports

    plugin = cls()
    parsed = _parser(plugin, config)

    class Verifier(exports.Verifier):
        def verify(self, check, config_text):
            return _call(lambda: plugin.verify(check, parsed(config_text))._wit())

        def config_schema(self):
            return _schema(config)

        def validate_config(self, config_text):
            _call(lambda: parsed(config_text))

    return Verifier


class Change:
    """What a target did: a message, and the units (and weight) as they now are."""

    def __init__(self, message: str, units: Optional[dict] = None, weight: Optional[int] = None):
        self.message = message
        self.units = units or {}
        self.weight = weight

    def _wit(self):
        from wit_world.exports import target

        units = [target.UnitVersion(unit=u, version=v) for u, v in self.units.items()]
        return target.Change(message=self.message, weight=self.weight, units=units)


def export_target(cls: type, config: Optional[type] = None) -> type:
    """The `Target` class componentize-py exports, from a class with `describe()` (a dict:
    name, version, summary, and optionally rollback, unit_batches, traffic_split, irreversible),
    `observe(config, from_version, to_version)` returning `{unit: version or None}`, and
    `apply(op, config)`, `rollback(op, config)`, `finalize(op, config)` returning a `Change`."""
    from wit_world import exports
    from wit_world.exports import target

    plugin = cls()
    parsed = _parser(plugin, config)

    class Target(exports.Target):
        def describe(self):
            d = plugin.describe()
            return target.Description(
                name=d["name"],
                version=d.get("version", "0.1.0"),
                summary=d.get("summary", ""),
                capabilities=target.Capabilities(
                    traffic_split=d.get("traffic_split", False),
                    unit_batches=d.get("unit_batches", True),
                    rollback=d.get("rollback", True),
                    irreversible=list(d.get("irreversible", [])),
                ),
            )

        def observe(self, config_text, from_version, to_version):
            def run():
                units = plugin.observe(parsed(config_text), from_version, to_version)
                return target.Observation(
                    units=[target.UnitVersion(unit=u, version=v) for u, v in units.items()],
                    weight=None,
                    irreversible=[],
                )

            return _call(run)

        def apply(self, op):
            return _call(lambda: plugin.apply(op, parsed(op.config))._wit())

        def rollback(self, op):
            return _call(lambda: plugin.rollback(op, parsed(op.config))._wit())

        def finalize(self, op):
            return _call(lambda: plugin.finalize(op, parsed(op.config))._wit())

        def config_schema(self):
            return _schema(config)

        def validate_config(self, config_text):
            _call(lambda: parsed(config_text))

    return Target


class _Log:
    """The host's log: each record is kept with the call in the rollout's audit trail."""

    def _emit(self, level: str, message: str, fields: dict) -> None:
        from wit_world.imports import log as wit_log

        wit_log.emit(
            wit_log.Level[level.upper()],
            str(message),
            [wit_log.Field(key=str(k), value=str(v)) for k, v in fields.items()],
        )

    def debug(self, message: str, **fields) -> None:
        self._emit("debug", message, fields)

    def info(self, message: str, **fields) -> None:
        self._emit("info", message, fields)

    def warn(self, message: str, **fields) -> None:
        self._emit("warn", message, fields)

    def error(self, message: str, **fields) -> None:
        self._emit("error", message, fields)


class _State:
    """The plugin's key-value state in this rollout, kept by the host across calls and restarts."""

    def get(self, key: str) -> Optional[str]:
        from wit_world.imports import state

        return state.get(key)

    def set(self, key: str, value: str) -> None:
        from wit_world.imports import state

        state.set(key, value)

    def remove(self, key: str) -> None:
        from wit_world.imports import state

        state.remove(key)

    def keys(self) -> list:
        from wit_world.imports import state

        return state.keys()


class _Clock:
    def now_millis(self) -> int:
        from wit_world.imports import clock as wit_clock

        return wit_clock.now_millis()


log = _Log()
state = _State()
clock = _Clock()
