"""The stack's port map: component -> label -> port, from the declared defaults, the map of
the last start (``run/ports.json``), TIDINGS_PORT_* variables, free ports ("auto", tests) or
an explicit mapping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

from functions.settings import SettingsError
from local.stack import process as proc
from local.stack.model import StackError, port_env_name


def resolve(declared: Mapping[str, Mapping[str, int]], ports, env: Mapping[str, str],
            saved: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """declared: component -> label -> default port; ports: None, "auto" or a mapping
    {"kafka": 19092, "kafka.controller": 19093, ...} over the defaults (see ``Stack``)."""
    out = {name: dict(labels) for name, labels in declared.items()}
    if ports == "auto":
        return {name: {label: proc.free_port() for label in labels} for name, labels in out.items()}
    if ports is None:
        for name, labels in out.items():
            for label in labels:
                if label in saved.get(name, {}):
                    labels[label] = int(saved[name][label])
                for env_name in (port_env_name(name, label),) + (
                        (port_env_name(name),) if label == next(iter(labels)) else ()):
                    if env_name in env:
                        labels[label] = parse_port(env_name, env[env_name])
        return out
    for key, value in dict(ports).items():
        name, _, label = key.partition(".")
        if name not in out:
            raise StackError(f"unknown component {name!r} in ports (known: {', '.join(out)})")
        label = label or next(iter(out[name]))
        if label not in out[name]:
            raise StackError(f"component {name} has no port {label!r} (has: {', '.join(out[name])})")
        out[name][label] = parse_port(key, value)
    return out


def parse_port(what: str, value) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{what}: not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{what}: port must be 1..65535, got {port}")
    return port


def read_saved(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "ports.json").read_text())
    except (OSError, ValueError):  # none yet, or an unusable home (Stack.check() reports that)
        return {}


def save(run_dir: Path, ports: Mapping[str, Mapping[str, int]]) -> None:
    """Merge ``ports`` into run/ports.json (atomically)."""
    path = run_dir / "ports.json"
    saved = read_saved(run_dir)
    saved.update(ports)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(saved, indent=1, sort_keys=True))
    os.replace(tmp, path)
