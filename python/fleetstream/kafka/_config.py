"""librdkafka settings given by users: a mapping of librdkafka names to values."""

from __future__ import annotations

from collections.abc import Mapping

from fleetstream.exceptions import ConfigError


def settings(config: Mapping[str, object] | None, brokers: str | None = None) -> list[tuple[str, str]]:
    out: dict[str, str] = {}
    if brokers is not None:
        out["bootstrap.servers"] = brokers
    for name, value in (config or {}).items():
        if not isinstance(name, str):
            raise ConfigError(f"config keys are librdkafka setting names (str), got {name!r}")
        out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    if "bootstrap.servers" not in out:
        raise ConfigError('config needs "bootstrap.servers" (host:port of the brokers), or pass brokers=')
    return list(out.items())
