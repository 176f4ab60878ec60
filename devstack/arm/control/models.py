"""The control plane's backend: what a test or the devstack does to the emulated world (not ARM).

`ControlBackend` works on the data plane's state (the estate and the providers' backends) and owns the
control plane's own: the fault registry and the request log the server's front door consults. Every
method takes the estate's lock where it touches the estate, as an ARM request does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..authorization.models import AuthorizationBackend, Permission, ScopePermissions
from ..cdn.models import OPERATION_KINDS as CDN_OPERATION_KINDS
from ..cosmosdb.models import OPERATION_KINDS as COSMOSDB_OPERATION_KINDS
from ..errors import ArmError
from ..estate import EmulatorSettings, Estate, normalize_location
from ..postgresql.models import OPERATION_KINDS as POSTGRESQL_OPERATION_KINDS
from ..sql.models import OPERATION_KINDS, SqlBackend
from ..storage.models import OPERATION_KINDS as STORAGE_OPERATION_KINDS
from ..trafficmanager.models import ResolveAnswer, TrafficManagerBackend
from ..web.models import OPERATION_KINDS as WEB_OPERATION_KINDS
from .faults import Fault, FaultRegistry, FaultSpec
from .requestlog import RequestLog, RequestRecord
from .seed import EstateSeed, apply_seed, load_seed


class RegionStatus(BaseModel):
    location: str
    down_since: datetime


class OperationInfo(BaseModel):
    id: str
    kind: str
    status: str
    started_at: datetime
    deadline: datetime
    ended_at: datetime | None
    error_code: str | None


class ControlBackend:
    def __init__(
        self,
        estate: Estate,
        sql: SqlBackend,
        traffic_manager: TrafficManagerBackend,
        authorization: AuthorizationBackend,
    ) -> None:
        self.estate = estate
        self.sql = sql
        self.traffic_manager = traffic_manager
        self.authorization = authorization
        self.fault_registry = FaultRegistry()
        self.request_log = RequestLog()

    # -- the estate ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the estate, faults, outages, settings and the request log; the caller holds `*` again."""
        with self.estate.lock:
            self.estate.reset()
        self.fault_registry.clear()
        self.request_log.clear()

    def seed(self, estate: EstateSeed | Mapping[str, Any] | str | Path) -> None:
        """Add an estate (a model, a mapping, or a YAML/JSON file path) to what is there."""
        parsed = load_seed(estate)
        with self.estate.lock:
            apply_seed(self.estate, self.sql, self.traffic_manager, parsed)

    # -- timing --------------------------------------------------------------------------------------
    def settings(self) -> EmulatorSettings:
        with self.estate.lock:
            return self.estate.settings.model_copy(deep=True)

    def configure(self, **changes: Any) -> EmulatorSettings:
        """Change timing knobs; `operation_seconds` entries are merged into the current ones."""
        with self.estate.lock:
            current = self.estate.settings.model_dump()
            durations = {**current["operation_seconds"], **changes.pop("operation_seconds", {})}
            _check_kinds(durations)
            updated = EmulatorSettings.model_validate({**current, **changes, "operation_seconds": durations})
            self.estate.settings = updated
            return updated.model_copy(deep=True)

    def set_operation_duration(self, kind: str, seconds: float) -> None:
        """How long operations of `kind` run from now on, e.g. ('database.geo_restore', 30)."""
        self.configure(operation_seconds={kind: seconds})

    # -- faults and the request log ------------------------------------------------------------------
    def inject_fault(
        self,
        path: str | FaultSpec,
        *,
        method: str | None = None,
        status: int | None = 503,
        code: str | None = None,
        message: str | None = None,
        count: int | None = 1,
        retry_after: int | None = None,
        latency_seconds: float = 0.0,
    ) -> Fault:
        """Fail (or delay) the next `count` ARM requests whose path matches the glob `path`."""
        spec = (
            path
            if isinstance(path, FaultSpec)
            else FaultSpec(
                path=path,
                method=method,
                status=status,
                code=code,
                message=message,
                count=count,
                retry_after=retry_after,
                latency_seconds=latency_seconds,
            )
        )
        return self.fault_registry.add(spec)

    def faults(self) -> list[Fault]:
        return self.fault_registry.list()

    def clear_faults(self) -> None:
        self.fault_registry.clear()

    def requests(self) -> list[RequestRecord]:
        """The ARM request log, oldest first (control API calls are not in it)."""
        return self.request_log.list()

    def clear_requests(self) -> None:
        self.request_log.clear()

    # -- regions and endpoint health -----------------------------------------------------------------
    def region_outage(self, location: str) -> None:
        """Take a region down: its SQL servers' requests time out (504 GatewayTimeout) while their
        geo-backups stay restorable, and Traffic Manager endpoints located there go Degraded."""
        with self.estate.lock:
            self.estate.tick()
            self.estate.outages.setdefault(normalize_location(location), self.estate.now())

    def region_restore(self, location: str) -> None:
        with self.estate.lock:
            self.estate.tick()
            self.estate.outages.pop(normalize_location(location), None)

    def regions_down(self) -> list[RegionStatus]:
        with self.estate.lock:
            return [RegionStatus(location=loc, down_since=at) for loc, at in self.estate.outages.items()]

    def set_target_health(self, target: str, *, healthy: bool) -> None:
        """Make a Traffic Manager endpoint target's probe pass or fail (host name or targetResourceId)."""
        with self.estate.lock:
            if healthy:
                self.estate.unhealthy_targets.discard(target.lower())
            else:
                self.estate.unhealthy_targets.add(target.lower())

    # -- long-running operations ---------------------------------------------------------------------
    def operations(self) -> list[OperationInfo]:
        with self.estate.lock:
            self.estate.tick()
            return [
                OperationInfo(
                    id=op.id,
                    kind=op.kind,
                    status=op.status.value,
                    started_at=op.started_at,
                    deadline=op.deadline,
                    ended_at=op.ended_at,
                    error_code=op.error.code if op.error is not None else None,
                )
                for op in sorted(self.estate.operations.operations.values(), key=lambda o: o.started_at)
            ]

    def finish_operations(self) -> None:
        """Finish every in-flight operation now (as if its duration had passed)."""
        with self.estate.lock:
            self.estate.operations.finish_all(self.estate.now())
            self.estate.tick()

    def fail_next_operation(
        self,
        kind: str,
        code: str = "OperationTimedOut",
        message: str | None = None,
        *,
        status: int = 500,
        count: int = 1,
    ) -> None:
        """The next `count` operations of `kind` end Failed with this ARM error (the SDK poller raises
        HttpResponseError carrying `code`); what they started is undone."""
        _check_kinds({kind: 0})
        with self.estate.lock:
            self.estate.operations.plan_failure(kind, ArmError(status, code, message), count)

    # -- what providers know that ARM does not show --------------------------------------------------
    def resolve(self, name: str) -> ResolveAnswer:
        """The endpoint a DNS query for a profile (fqdn, relative name or resource id) gets now."""
        with self.estate.lock:
            self.estate.tick()
            profile = self.traffic_manager.profile_by_name(name)
            if profile is None:
                raise KeyError(f"no Traffic Manager profile {name!r}")
            return self.traffic_manager.resolve(profile)

    def replication_lag(self, database_id: str) -> float | None:
        """Seconds the geo-secondary trails the primary (None when the database has no link). Azure has
        no ARM field for it (sys.dm_geo_replication_link_status.replication_lag_sec holds it)."""
        with self.estate.lock:
            return self.sql.replication_lag(database_id)

    def set_replication_lag(self, database_id: str, seconds: float) -> None:
        with self.estate.lock:
            if self.sql.set_replication_lag(database_id, seconds) == 0:
                raise KeyError(f"database {database_id!r} has no replication link")

    # -- the caller's permissions (Microsoft.Authorization) ------------------------------------------
    def set_permissions(self, scope: str, permissions: Iterable[Permission | Mapping[str, Any]]) -> None:
        """Set what the caller holds at exactly `scope` ('/', a subscription, a resource group or a resource
        id), replacing what was set there: one entry per role assignment, `{"actions", "notActions",
        "dataActions", "notDataActions"}`. A scope inherits what its parents hold (the default is `*` at '/':
        call `set_permissions("/", [])` or `clear_permissions()` to take it away)."""
        parsed = [p if isinstance(p, Permission) else Permission.model_validate(dict(p)) for p in permissions]
        with self.estate.lock:
            self.authorization.set_permissions(scope, parsed)

    def granted_permissions(self) -> list[ScopePermissions]:
        """What the caller holds, scope by scope (as set, not inherited)."""
        with self.estate.lock:
            return self.authorization.granted()

    def clear_permissions(self) -> None:
        """The caller holds nothing anywhere (every permission check then fails)."""
        with self.estate.lock:
            self.authorization.clear()


def _check_kinds(durations: Mapping[str, Any]) -> None:
    known: tuple[str, ...] = (*OPERATION_KINDS, *COSMOSDB_OPERATION_KINDS, *POSTGRESQL_OPERATION_KINDS)
    known += (*STORAGE_OPERATION_KINDS, *WEB_OPERATION_KINDS)
    known += CDN_OPERATION_KINDS
    unknown = sorted(set(durations) - set(known))
    if unknown:
        raise ValueError(f"unknown operation kind(s) {unknown}; known: {', '.join(known)}")
