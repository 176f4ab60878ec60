"""The whole local stack: Azurite (behind a fault proxy), the ARM emulator, the demo application's
regions, and the devstack host serving the real function app with its settings pointing at all of them.

`make serve` (`python -m devstack.stack`) runs it in the foreground until SIGTERM or Ctrl-C; the demo and
the end-to-end tests use :class:`LocalStack` in-process. Once everything is up, what was started is written
to `<state dir>/stack.json` so people and tools can connect (it holds the local Azurite keys: it is a
developer's file, like local.settings.json).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from devstack.apps import RegionApps
from devstack.arm import ArmEmulator
from devstack.arm.estate import normalize_location
from devstack.azurite import Azurite
from devstack.control import StackControl
from devstack.faultproxy import FaultProxy, Rule
from devstack.host import HostServer
from devstack.local_estate import LocalEstate
from dr.clients import reset_for_tests
from dr.errors import DrError

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_ESTATE = DEMO_DIR / "estate.yaml"
DEMO_PLAN = DEMO_DIR / "plan.yaml"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001"
ARM_TOKEN = "devstack-arm-token"  # the emulator accepts any bearer token; this one is not a secret
# Plans name accounts as in Azure; locally each maps onto an Azurite account.
ACCOUNT_MAP = {"shopeus": "primary", "shopwus": "secondary", "primary": "primary", "secondary": "secondary"}
REGION_OF_ACCOUNT = {"primary": "eastus", "secondary": "westus"}
ENDPOINT_REGIONS = {"shop-eus": "eastus", "shop-wus": "westus"}
_PROFILES = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/shop-global/providers/Microsoft.Network/trafficManagerProfiles"
)
PUBLIC_NAMES = {"shop": f"{_PROFILES}/shop", "shop-drill": f"{_PROFILES}/shop-drill"}


class StorageAccountInfo(BaseModel):
    blob_endpoint: str
    connection_string: str


class StackInfo(BaseModel):
    host_url: str
    function_key: str
    storage_accounts: dict[str, StorageAccountInfo]
    arm_url: str
    arm_ca: str
    subscription_id: str
    apps_url: str
    plans_dir: str
    state_dir: str
    # drctl devstack outage|restore: the stack's control server (devstack/control.py) and its token.
    control_url: str | None = None
    control_token: str | None = None


class LocalStack:
    def __init__(
        self,
        *,
        state_dir: Path = ROOT / ".devstack",
        port: int = 0,
        plans_dir: Path | None = None,
        function_key: str | None = None,
        timers: bool = True,
        estate: Path = DEMO_ESTATE,
        own_plans: Path | None = None,
    ) -> None:
        """``own_plans``: a folder of your plans for ``estate`` (devstack.local_estate: the accounts they name,
        the estate's app deployments and public names, the plans rendered onto the local stack); without it,
        the demo's plan (or ``plans_dir`` as given)."""
        self.state_dir = state_dir
        self.port = port
        self.requested_plans_dir = plans_dir
        self.function_key = function_key
        self.timers = timers
        self.estate = estate
        self.own_plans = own_plans
        self.local = LocalEstate.read(estate, own_plans) if own_plans is not None else None
        # Azurite account per plan alias, and the region whose outage makes it unreachable.
        self.account_map = dict(ACCOUNT_MAP)
        self.account_regions = dict(REGION_OF_ACCOUNT)
        if self.local is not None:
            self.account_map.update({name: name for name in self.local.accounts})
            self.account_regions.update(self.local.account_regions)
        self.azurite: Azurite | None = None
        self.proxy: FaultProxy | None = None
        self.arm: ArmEmulator | None = None
        self.apps: RegionApps | None = None
        self.host: HostServer | None = None
        self.control: StackControl | None = None
        self.info: StackInfo | None = None
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.azurite = Azurite(accounts=sorted(set(self.account_map.values()))).start()
        # Every storage request goes through the proxy, so the primary can be made unreachable on its own.
        self.proxy = FaultProxy(self.azurite.blob_endpoint).start()
        self.arm = ArmEmulator(state_dir=self.state_dir / "arm").start()
        self.arm.seed(self.estate)
        endpoint_regions, public_names = ENDPOINT_REGIONS, PUBLIC_NAMES
        if self.local is not None:
            endpoint_regions, public_names = self.local.endpoint_regions, self.local.public_names
        self.apps = RegionApps(self.arm.resolve, endpoint_regions, public_names).start()
        self.control = StackControl(self, secrets.token_urlsafe(24)).start()
        plans_dir = self._plans_dir()
        accounts = {
            name: StorageAccountInfo(
                blob_endpoint=self.azurite.url_for(name, endpoint=self.proxy.endpoint),
                connection_string=self.azurite.connection_string(name, endpoint=self.proxy.endpoint),
            )
            for name in sorted(set(self.account_map.values()))
        }
        settings = {
            "DR_PLANS_DIR": str(plans_dir),
            "DR_TASK_HUB": "drorchestratordevstack",
            "DR_REPORTS_ACCOUNT_URL": accounts["secondary"].blob_endpoint,
            "DR_STORAGE_CONNECTION_STRINGS": json.dumps(
                {alias: accounts[name].connection_string for alias, name in self.account_map.items()}
            ),
            "DR_ARM_ENDPOINT": self.arm.url,
            "DR_ARM_CA_BUNDLE": str(self.arm.ca_path),
            "DR_ARM_TOKEN": ARM_TOKEN,
            "DR_STEP_POLL_MIN_SECONDS": os.environ.get("DR_STEP_POLL_MIN_SECONDS", "0.5"),
            "DR_SYNC_SCHEDULE": os.environ.get("DR_SYNC_SCHEDULE", "0 */15 * * * *"),
            "DR_WATCHDOG_SCHEDULE": os.environ.get("DR_WATCHDOG_SCHEDULE", "0 */5 * * * *"),
            "DR_READINESS_SCHEDULE": os.environ.get("DR_READINESS_SCHEDULE", "0 */30 * * * *"),
        }
        # The app's settings are this process's environment: the host's, and the worker processes' from their start.
        for name, value in settings.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        reset_for_tests()
        self.host = HostServer(
            ROOT,
            port=self.port,
            state_dir=self.state_dir / "host",
            function_key=self.function_key,
            timers=self.timers,
            # The app runs in worker processes of its own, one per scale group as on Flex Consumption
            # (DEVSTACK_SCALE_GROUPS); DEVSTACK_WORKER_PROCESS=0: in this one.
            worker_process=os.environ.get("DEVSTACK_WORKER_PROCESS", "1") != "0",
        )
        self.host.start()
        self.info = StackInfo(
            host_url=self.host.url,
            function_key=self.host.runtime.function_key,
            storage_accounts=accounts,
            arm_url=self.arm.url,
            arm_ca=str(self.arm.ca_path),
            subscription_id=SUBSCRIPTION_ID,
            apps_url=self.apps.url,
            plans_dir=str(plans_dir),
            state_dir=str(self.state_dir),
            control_url=self.control.url,
            control_token=self.control.token,
        )
        (self.state_dir / "stack.json").write_text(self.info.model_dump_json(indent=2))

    def _plans_dir(self) -> Path:
        """DR_PLANS_DIR when set (or given), else the demo plan rendered with this stack's addresses."""
        chosen = self.requested_plans_dir or (
            Path(os.environ["DR_PLANS_DIR"]) if os.environ.get("DR_PLANS_DIR") else None
        )
        if chosen is not None:
            return chosen.resolve()
        assert self.apps is not None
        plans_dir = self.state_dir / "plans"
        if self.local is not None and self.own_plans is not None:
            self.local.render_plans(self.own_plans, plans_dir, self.apps.url)
            return plans_dir.resolve()
        plans_dir.mkdir(parents=True, exist_ok=True)
        (plans_dir / DEMO_PLAN.name).write_text(DEMO_PLAN.read_text().replace("${APPS}", self.apps.url))
        return plans_dir

    def stop(self) -> None:
        for part in (self.control, self.host, self.apps, self.arm, self.proxy, self.azurite):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # stop the rest regardless
                    print(f"devstack: stopping {type(part).__name__} failed: {exc}")
        self.host = self.apps = self.arm = self.proxy = self.azurite = None
        self.control = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        reset_for_tests()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- what the demo and tests do to the world -------------------------------------------------------
    def region_outage(self, region: str) -> None:
        """A regional outage: its SQL servers and Traffic Manager endpoints (emulator), its application
        deployment, and its storage account (unreachable through the proxy) all go down."""
        assert self.arm
        assert self.apps
        assert self.proxy
        self.arm.region_outage(region)
        self.apps.regions_down.add(region)
        for account, account_region in self.account_regions.items():
            if account_region == region:
                self.proxy.add_rule(Rule("refuse", account=account))

    def region_restore(self, region: str) -> None:
        assert self.arm
        assert self.apps
        assert self.proxy
        self.arm.region_restore(region)
        self.apps.regions_down.discard(region)
        self.proxy.clear_rules()

    def regions(self) -> dict[str, bool]:
        """Every region the stack knows (its storage accounts', app deployments' and resource groups'), and
        whether it is down."""
        assert self.arm
        assert self.apps
        known = set(self.account_regions.values()) | set(self.apps.endpoint_regions.values())
        with self.arm.estate.lock:
            for subscription in self.arm.estate.subscriptions.values():
                known |= {normalize_location(group.location) for group in subscription.resource_groups.values()}
        down = {status.location for status in self.arm.regions_down()} | self.apps.regions_down
        return {region: region in down for region in sorted(known)}

    def blob_service(self, account: str) -> Any:
        """A sync client for an Azurite account, straight to Azurite (not through the outage)."""
        from azure.storage.blob import BlobServiceClient

        assert self.azurite is not None
        return BlobServiceClient.from_connection_string(self.azurite.connection_string(account))

    def _arm_client(self, client_type: Any) -> Any:
        from devstack.arm import StaticTokenCredential

        if self.arm is None:
            raise RuntimeError("the stack is not running")
        return client_type(
            StaticTokenCredential(), SUBSCRIPTION_ID, base_url=self.arm.url, connection_verify=str(self.arm.ca_path)
        )

    def sql_client(self) -> Any:
        """A real SqlManagementClient on the emulator (what tests and the demo inspect the world with)."""
        from azure.mgmt.sql import SqlManagementClient

        return self._arm_client(SqlManagementClient)

    def traffic_client(self) -> Any:
        from azure.mgmt.trafficmanager import TrafficManagerManagementClient

        return self._arm_client(TrafficManagerManagementClient)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.stack", description="Run the whole local stack.")
    parser.add_argument("--port", type=int, default=7071, help="host port (default 7071; 0 = any free port)")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".devstack")
    parser.add_argument("--no-timers", action="store_true", help="do not run timer triggers on schedule")
    parser.add_argument("--estate", type=Path, default=DEMO_ESTATE, help="the estate to seed (default: the demo's)")
    parser.add_argument("--plans", type=Path, default=None, help="your plans for --estate (default: the demo's)")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        stack = LocalStack(
            state_dir=args.state_dir,
            port=args.port,
            timers=not args.no_timers,
            estate=args.estate,
            own_plans=args.plans,
        ).start()
    except (OSError, ValueError, KeyError, DrError) as exc:  # a missing file, bad YAML, a broken estate or plan
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    try:
        assert stack.info is not None
        info = stack.info
        for note in stack.local.notes if stack.local else []:
            print(f"note: {note}")
        print(f"devstack host      {info.host_url}  (x-functions-key: {info.function_key})")
        print(f"ARM emulator       {info.arm_url}  (CA: {info.arm_ca})")
        for name, account in info.storage_accounts.items():
            print(f"storage {name:<10} {account.blob_endpoint}")
        print(f"application        {info.apps_url}/<region>/health, {info.apps_url}/<profile>/health")
        print(f"plans              {info.plans_dir}")
        print(f"connection details {Path(info.state_dir) / 'stack.json'}")
        print("Ctrl-C stops everything.", flush=True)
        stopping.wait()
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
