"""One settings object for the service and the command line, from flags or MODERATE_* variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.artifact import DEFAULT_MODEL_DIR

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class Settings(BaseSettings):
    """Every run-time setting; environment variables are the upper-case names prefixed MODERATE_."""

    model_config = SettingsConfigDict(env_prefix="MODERATE_", extra="ignore")

    model_dir: Path = DEFAULT_MODEL_DIR
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "share" / "comment-moderator")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_batch: int = Field(default=1000, ge=1)
    max_comment_chars: int = Field(default=20000, ge=1)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    explain_top: int = Field(default=6, ge=0, le=50)
    log_level: str = "info"
    database_url: str | None = None  # feedback store; default: a SQLite file in data_dir
    requests_per_connection: int = Field(default=100, ge=0)  # with several workers; 0: never reconnect
    seconds_per_connection: float = Field(default=0.25, ge=0)  # with several workers; 0: no time limit

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        """Accept a comma-separated string ("k1,k2") as well as a JSON list ('["k1", "k2"]'); empty is
        no keys (development mode), and a value that names no key (",") is refused."""
        if isinstance(value, str) and value.strip():
            listed = value.strip().startswith("[")
            try:
                value = json.loads(value) if listed else [key.strip() for key in value.split(",")]
            except ValueError:
                raise ValueError("starts with '[' but is not a JSON list of keys") from None
            if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
                raise ValueError("must be a JSON list of texts, or keys separated by commas")
            value = [key.strip() for key in value if key.strip()]
            if not value:
                raise ValueError("names no key: leave it unset for development mode")
        return [] if isinstance(value, str) else value

    @field_validator("model_dir", "data_dir", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        """An empty folder, which would mean the current one, is refused."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give a folder, or leave it unset for the default")
        return value

    @field_validator("host", mode="before")
    @classmethod
    def _host_given(cls, value: object) -> object:
        """An empty or blank host, which uvicorn would bind to every interface (or fail on), is refused."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give an interface (such as 0.0.0.0 for all), or leave it unset for "
                             "127.0.0.1")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        """One of uvicorn's log levels."""
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return value.lower()

    @property
    def development_mode(self) -> bool:
        """No API keys configured: the service only binds to loopback."""
        return not self.api_keys and not self.admin_keys
