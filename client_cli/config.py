"""Settings: flags, then environment (EVENTDESK_*), then the config file; and where files live.

EVENTDESK_HOME, when set, holds everything (config, cache, door journal), so tests and
portable installs never touch the user's real home.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

KEYS = ("server", "token", "event")
DEFAULTS = {"server": "http://127.0.0.1:5000", "token": None, "event": "ecc2014"}


def config_dir() -> Path:
    home = os.environ.get("EVENTDESK_HOME")
    if home:
        return Path(home)
    import platformdirs

    return Path(platformdirs.user_config_dir("eventdesk", appauthor=False))


def cache_dir() -> Path:
    home = os.environ.get("EVENTDESK_HOME")
    if home:
        return Path(home) / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("eventdesk", appauthor=False))


def config_path() -> Path:
    return config_dir() / "config.json"


def read_file() -> dict:
    """The saved settings; a missing or unreadable file counts as empty."""
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if key in KEYS} if isinstance(data, dict) else {}


def write_file(values: dict) -> Path:
    """Save settings with mode 0600: the file may hold a token."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=2)
    return path


@dataclass(frozen=True)
class Settings:
    server: str
    token: str | None
    event: str
    sources: dict  # key -> "flag", "environment", "config file" or "default"


def resolve(flags: dict) -> Settings:
    """Each setting from the first place that has it: flag, environment, config file, default."""
    saved = read_file()
    values, sources = {}, {}
    for key in KEYS:
        env = os.environ.get(f"EVENTDESK_{key.upper()}")
        for source, value in (("flag", flags.get(key)), ("environment", env), ("config file", saved.get(key))):
            if value:
                values[key], sources[key] = value, source
                break
        else:
            values[key], sources[key] = DEFAULTS[key], "default"
    return Settings(values["server"].rstrip("/"), values["token"], values["event"], sources)
