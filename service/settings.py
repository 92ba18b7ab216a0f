"""One settings object for the service and the command line, from flags or MODERATE_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.artifact import DEFAULT_MODEL_DIR

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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
        """Accept a comma-separated string ("k1,k2") as well as a JSON list."""
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @property
    def development_mode(self) -> bool:
        """No API keys configured: the service only binds to loopback."""
        return not self.api_keys and not self.admin_keys
