"""Settings from environment variables (and an optional `.env` file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the bot reads from its environment; see README "Settings"."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: str | None = Field(default=None, description="Bot token (xoxb-...)")
    slack_signing_secret: str | None = Field(default=None, description="Signing secret for HTTP mode")
    slack_app_token: str | None = Field(default=None, description="App-level token (xapp-...): enables Socket Mode")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL")
    slack_timeout_seconds: float = Field(
        default=30, gt=0, le=300, description="How long a Slack Web API call may take before it counts as no answer"
    )
    database_url: str = Field(default="sqlite+aiosqlite:///triage.db", description="SQLAlchemy async URL")
    database_statement_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="How long one database statement of `run` may take (SQLite: wait for the write lock) before the "
        "request is answered 'try again'",
    )
    port: int = Field(default=3000, ge=1, le=65535, description="HTTP port for /slack/events")
    policy_dir: Path | None = Field(default=None, description="Folder with your own policy YAML files")
    default_plan: str = Field(default="comarch-cci-premium", description="Plan for channels with no customer")
    admin_user_ids: str = Field(default="", description="Comma-separated Slack user ids allowed to manage customers")
    responder_user_ids: str = Field(default="", description="Comma-separated Slack user ids of responders")
    responder_group_id: str | None = Field(default=None, description="Slack user group (S0...) whose members are responders")
    manager_user_ids: str = Field(default="", description="Comma-separated Slack user ids of managers")
    manager_group_id: str | None = Field(default=None, description="Slack user group (S0...) whose members are managers")
    scheduler_enabled: bool = Field(default=True, description="Run the SLA scheduler in this process")
    scheduler_tick_seconds: float = Field(default=1.0, gt=0, le=60, description="How often the scheduler looks for due timers")
    scheduler_batch_size: int = Field(default=500, ge=1, description="Most timers one replica claims per tick")
    scheduler_lease_seconds: float = Field(
        default=60, gt=0, description="How long a claimed timer is held before another replica may take it"
    )
    metrics_port: int = Field(default=9102, ge=1, le=65535, description="Socket Mode: port for /metrics, /health and /ready")
    log_level: str = Field(default="INFO")
    log_format: str = Field(default="text", pattern="^(text|json)$", description="text, or json: one JSON object per line")

    @property
    def admin_ids(self) -> set[str]:
        return _ids(self.admin_user_ids)

    @property
    def responder_ids(self) -> set[str]:
        return _ids(self.responder_user_ids)

    @property
    def manager_ids(self) -> set[str]:
        return _ids(self.manager_user_ids)


def _ids(text: str) -> set[str]:
    return {u.strip() for u in text.split(",") if u.strip()}
