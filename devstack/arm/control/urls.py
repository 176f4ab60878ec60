"""Control API routes, under /_emulator/ on the emulator's server (the rest of the paths are ARM's).

    GET    /ping                               -> {"status": "ok", "url": ...}
    POST   /reset
    POST   /seed                               body: estate seed (JSON, or YAML as text)
    GET    /settings | PUT (partial update)    body: EmulatorSettings fields
    GET    /faults | POST (FaultSpec) -> Fault | DELETE (clear all)
    GET    /regions                            -> [{"location", "down_since"}]
    POST   /regions/{location}/outage | /restore
    POST   /health                             body: {"target", "healthy"}
    GET    /requests | DELETE                  the ARM request log
    GET    /operations                         in-flight and finished LROs
    POST   /operations/finish                  finish every in-flight LRO now
    POST   /operations/fail                    body: {"kind", "code", "message", "status", "count"}
    GET    /trafficmanager/resolve?name=FQDN|PROFILE_ID  -> ResolveAnswer
    GET    /sql/replication-lag?database_id=ID -> {"database_id", "seconds"}
    PUT    /sql/replication-lag                body: {"database_id", "seconds"}
    GET    /authorization/permissions          -> [{"scope", "permissions"}] what the caller holds, per scope
    PUT    /authorization/permissions          body: {"scope", "permissions": [{"actions", "notActions", ...}]}
    DELETE /authorization/permissions          the caller holds nothing anywhere

Each wraps the `ControlBackend` method of the same meaning (see the README's table).
"""

from __future__ import annotations

from aiohttp import web

from .responses import ControlHandler, ControlResponses, guarded

BASE = "/_emulator"


def routes(responses: ControlResponses) -> list[web.RouteDef]:
    r = responses
    table: list[tuple[str, str, ControlHandler]] = [
        ("GET", "/ping", r.ping),
        ("POST", "/reset", r.reset),
        ("POST", "/seed", r.seed),
        ("GET", "/settings", r.get_settings),
        ("PUT", "/settings", r.put_settings),
        ("GET", "/faults", r.list_faults),
        ("POST", "/faults", r.add_fault),
        ("DELETE", "/faults", r.clear_faults),
        ("GET", "/regions", r.regions),
        ("POST", "/regions/{location}/outage", r.outage),
        ("POST", "/regions/{location}/restore", r.restore),
        ("POST", "/health", r.health),
        ("GET", "/requests", r.requests),
        ("DELETE", "/requests", r.clear_requests),
        ("GET", "/operations", r.operations),
        ("POST", "/operations/finish", r.finish_operations),
        ("POST", "/operations/fail", r.fail_operation),
        ("GET", "/trafficmanager/resolve", r.resolve),
        ("GET", "/sql/replication-lag", r.get_replication_lag),
        ("PUT", "/sql/replication-lag", r.put_replication_lag),
        ("GET", "/authorization/permissions", r.granted_permissions),
        ("PUT", "/authorization/permissions", r.set_permissions),
        ("DELETE", "/authorization/permissions", r.clear_permissions),
    ]
    return [web.route(method, BASE + path, guarded(handler)) for method, path, handler in table]
