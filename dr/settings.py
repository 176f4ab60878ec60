"""The one settings object: every knob the app reads from its environment (app settings in Azure,
local.settings.json under func, the devstack's environment locally). Nothing reads os.environ elsewhere.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AZURE_ARM_ENDPOINT = "https://management.azure.com"
# The app settings a plan's `notify` may name (dr.plan.NotifyPolicy): only these, so a plan file cannot have run
# details posted to whatever URL another setting happens to hold.
NOTIFY_SETTING_PATTERN = r"^DR_NOTIFY_[A-Z0-9_]{1,100}$"
# The app settings a webhook step may call (dr.plan.WebhookStep: url_setting and its drill/failback variants):
# their URLs carry a token (an Automation webhook's, a Logic App trigger's SAS), so a plan names only these.
WEBHOOK_SETTING_PATTERN = r"^DR_WEBHOOK_[A-Z0-9_]{1,100}$"
# The app root: the folder of function_app.py (dr/ sits in it). A relative DR_PLANS_DIR is resolved from
# here, never from the working directory, which the Functions host does not promise to be the app folder.
APP_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DR_", extra="ignore", frozen=True)

    plans_dir: Path = Field(
        APP_ROOT / "plans",
        description="Folder of YAML DR plans, read when a run starts; a relative path is from the app root.",
    )
    # Read by the Functions host, not by this code (host.json's %DR_TASK_HUB%, the timer's %DR_SYNC_SCHEDULE%):
    # here so that every DR_ knob is in one place; infra/main.bicep and devstack/stack.py set both.
    task_hub: str = Field("drorchestrator", description="Durable task hub name (host.json hubName).")

    # Management plane: Azure, or the devstack ARM emulator (HTTPS with its own CA).
    arm_endpoint: str = AZURE_ARM_ENDPOINT
    arm_ca_bundle: Path | None = Field(None, description="CA bundle for a non-public ARM endpoint.")
    arm_token: SecretStr | None = Field(
        None, description="Static bearer token for the ARM emulator; unset in Azure (managed identity)."
    )

    # Data plane: account name -> connection string, for Azurite only. Accounts absent from the map are
    # reached at their URL with the managed identity (azure-identity), as in Azure.
    storage_connection_strings: dict[str, SecretStr] = Field(default_factory=dict)
    storage_ca_bundle: Path | None = Field(
        None, description="CA bundle for a non-public storage endpoint (Azurite over HTTPS, for bearer tokens)."
    )
    reports_account_url: str | None = Field(None, description="Blob account that receives run reports.")
    reports_container: str = "dr-reports"
    state_container: str = Field(
        "dr-state",
        description="Container on each blob step's TARGET account for its sync records and run files.",
    )

    # Logs.
    sdk_http_logs: bool = Field(
        False,
        description="Log every Azure SDK request and response (azure-core's HTTP logging policy, headers "
        "redacted) at INFO. Off: the Python worker sends every INFO record to the host and Application "
        "Insights, and a blob step makes one request per blob.",
    )

    # Operator API.
    enforce_roles: bool = Field(False, description="Check App Service auth roles on operator routes.")
    operator_role: str = "dr.operator"
    approver_role: str = "dr.approver"

    # Standing sync.
    sync_schedule: str = Field("0 */15 * * * *", description="NCRONTAB of the standing sync's timer trigger.")

    # Stuck-run watchdog.
    watchdog_schedule: str = Field("0 */5 * * * *", description="NCRONTAB of the stuck-run watchdog's timer.")
    watchdog_phase_minutes: float = Field(
        30.0, gt=0, description="A run in phase starting or reporting longer than this counts as stuck."
    )
    watchdog_grace_minutes: float = Field(
        5.0, ge=0, description="Slack past a step's timeout (or the approval deadline) before a run counts as stuck."
    )

    # Readiness: every plan evaluated (dr.whatif) on this schedule; a changed plan file within a minute.
    readiness_schedule: str = Field(
        "0 */30 * * * *", description="NCRONTAB of the readiness timer that evaluates every plan."
    )
    sync_stale_minutes: float = Field(
        60.0,
        gt=0,
        description="Readiness turns red when a blob step's last standing sync is older than this (or never ran): "
        "the data a failover would keep is older than the plan expects. A failover itself is not stopped by it.",
    )

    # Orchestration tuning (activity retries are each step's `retry` in its plan, not a setting).
    step_poll_min_seconds: float = 2.0

    managed_identity_client_id: str | None = Field(
        None, validation_alias="AZURE_CLIENT_ID", description="User-assigned identity used in Azure."
    )

    # Links in notifications (dr.notify): this app's base URL as its operators reach it.
    public_url: str | None = Field(
        None, description="Base URL of this app's API (https://<host>); default: https://$WEBSITE_HOSTNAME."
    )
    website_hostname: str | None = Field(
        None, validation_alias="WEBSITE_HOSTNAME", description="Set by App Service: the app's default host name."
    )

    @property
    def app_base_url(self) -> str | None:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"https://{self.website_hostname}" if self.website_hostname else None

    def notify_webhook_url(self, setting: str) -> SecretStr | None:
        """The webhook URL the app setting ``setting`` holds, read when a notification goes out (a secret:
        rotating it needs no restart). None when it is unset or is not a notification setting."""
        return _url_setting(NOTIFY_SETTING_PATTERN, setting)

    def step_webhook_url(self, setting: str) -> SecretStr | None:
        """The URL a webhook step calls, from the app setting ``setting`` (DR_WEBHOOK_<NAME>), read at each
        call like notify_webhook_url. None when it is unset or is not a webhook-step setting."""
        return _url_setting(WEBHOOK_SETTING_PATTERN, setting)

    @field_validator("plans_dir", mode="after")
    @classmethod
    def _from_app_root(cls, value: Path) -> Path:
        return value if value.is_absolute() else APP_ROOT / value

    @field_validator("storage_connection_strings", mode="before")
    @classmethod
    def _parse_json_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def uses_arm_emulator(self) -> bool:
        return self.arm_endpoint.rstrip("/") != AZURE_ARM_ENDPOINT


def _url_setting(pattern: str, setting: str) -> SecretStr | None:
    """A secret URL from the environment, for setting names ``pattern`` allows only (a plan cannot point a
    call at whatever another setting holds)."""
    if not re.fullmatch(pattern, setting):
        return None
    value = os.environ.get(setting, "").strip()
    return SecretStr(value) if value else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process, on first use (never at import)."""
    return Settings()


def warm_settings_reader() -> None:
    """Pay at load what the first read of the settings would otherwise pay during the first alert.

    pydantic-settings asks, for every field, whether its annotation is a Mapping or a Sequence (to decode JSON
    from the environment), and the first such ``issubclass`` walks every subclass of those ABCs loaded, which
    in the app's process means the SDKs' thousands of models: about 0.3 s on this machine. A throwaway read at
    load fills the ABCs' caches. Nothing is kept: the environment may still change after load (the host
    reloads it when it specializes a placeholder instance), so ``get_settings`` still reads on first use.
    """
    try:
        Settings()
    except Exception:  # incomplete at load is fine: only the type checks were wanted
        return
