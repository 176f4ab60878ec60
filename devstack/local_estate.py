"""Your own estate on the local stack (`make serve ESTATE=estate.yaml PLANS=plans/`): what the stack derives
from an estate file and a plans folder so that a person can rehearse their plans the way the demo does.

- **Storage accounts.** Every account a plan's blob steps name (``https://<account>.blob.core.windows.net``)
  becomes an Azurite account of the same name; its region, for outages, comes from the estate's
  ``storage_accounts`` (``[{name, location}]``), else it is unknown and no outage takes it down (said at start).
- **Applications.** Each Traffic Manager endpoint of the estate is an application deployment in its
  ``location``: ``${APPS}/<region>/health`` answers 200 while the region is up; each profile is a public
  name, ``${APPS}/<profile>/health``, answering as the endpoint DNS would return now.
- **Plans.** Each plan file is copied into the stack's state folder with ``${APPS}`` replaced, and every
  health URL whose host the estate knows rewritten onto the local application server: an endpoint's
  ``target`` becomes ``${APPS}/<its region>``, a profile's ``<relative_name>.trafficmanager.net`` becomes
  ``${APPS}/<profile>``. A URL to any other non-loopback host is refused before the stack starts: a local
  rehearsal must never probe (or, with a webhook step, call) a real host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from devstack.arm.estate import normalize_location
from devstack.arm.ids import provider_id
from dr.errors import PlanError

APPS = "${APPS}"
_BLOB_ACCOUNT = re.compile(r"^https?://([a-z0-9]{3,24})\.blob\.core\.windows\.net(?:/|$)")
# Plan keys that hold a URL the app requests (health checks, Traffic Manager health, primary health).
_URL_KEYS = {"url", "health_url", "urls"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class LocalEstate:
    """What the stack needs to serve an estate: accounts and their regions, app deployments, public names."""

    accounts: list[str]
    account_regions: dict[str, str]
    endpoint_regions: dict[str, str]
    public_names: dict[str, str]
    host_rewrites: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, estate_path: Path, plans_dir: Path) -> LocalEstate:
        estate = yaml.safe_load(estate_path.read_text(encoding="utf-8")) or {}
        subscription = estate.get("subscription_id", "")
        locations = {group["name"]: group.get("location") for group in estate.get("resource_groups", [])}
        endpoint_regions: dict[str, str] = {}
        public_names: dict[str, str] = {}
        rewrites: dict[str, str] = {}
        for profile in (estate.get("traffic_manager") or {}).get("profiles", []):
            group = profile["resource_group"]
            public_names[profile["name"]] = provider_id(
                subscription, group, "Microsoft.Network", "trafficManagerProfiles", profile["name"]
            )
            relative = profile.get("relative_name") or profile["name"]
            rewrites[f"{relative}.trafficmanager.net".lower()] = f"{APPS}/{profile['name']}"
            for endpoint in profile.get("endpoints", []):
                region = endpoint.get("location") or locations.get(group)
                if region:
                    endpoint_regions[endpoint["name"]] = normalize_location(region)
                    if endpoint.get("target"):
                        rewrites[str(endpoint["target"]).lower()] = f"{APPS}/{endpoint_regions[endpoint['name']]}"
        declared = {item["name"]: item["location"] for item in estate.get("storage_accounts", [])}
        accounts = sorted(_plan_accounts(plans_dir) | set(declared))
        notes = [
            f"storage account {name}: no location in the estate's storage_accounts: no region outage affects it"
            for name in accounts
            if name not in declared
        ]
        return cls(
            accounts=accounts,
            account_regions={name: normalize_location(declared[name]) for name in accounts if name in declared},
            endpoint_regions=endpoint_regions,
            public_names=public_names,
            host_rewrites=rewrites,
            notes=notes,
        )

    def render_plans(self, plans_dir: Path, into: Path, apps_url: str) -> list[Path]:
        """Copy every plan file into ``into`` with its URLs on the local application server (module docstring);
        PlanError listing every URL to a host the estate does not know."""
        into.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        foreign: list[str] = []
        for path in _plan_files(plans_dir):
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            rendered = self._rewrite(document, path.name, foreign)
            text = yaml.safe_dump(rendered, sort_keys=False, allow_unicode=True).replace(APPS, apps_url)
            (into / path.name).write_text(text, encoding="utf-8")
            written.append(into / path.name)
        if foreign:
            raise PlanError(
                "these URLs would reach real hosts from the local stack: "
                + "; ".join(foreign[:10])
                + ". Use ${APPS}/<region>/health or ${APPS}/<profile>/health, or make the host a Traffic Manager "
                "endpoint target of the estate"
            )
        return written

    def _rewrite(self, node: Any, where: str, foreign: list[str], key: str | None = None) -> Any:
        if isinstance(node, dict):
            return {k: self._rewrite(v, f"{where}: {k}", foreign, k) for k, v in node.items()}
        if isinstance(node, list):
            return [self._rewrite(item, where, foreign, key) for item in node]
        if isinstance(node, str) and key in _URL_KEYS:
            return self._local_url(node, where, foreign)
        return node

    def _local_url(self, url: str, where: str, foreign: list[str]) -> str:
        if url.startswith(APPS):
            return url
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host in _LOOPBACK:
            return url
        base = self.host_rewrites.get(host)
        if base is None:
            foreign.append(f"{where} = {url}")
            return url
        # The application server serves /<name>/health: the path's last segment is kept as the check.
        return f"{base}/{parts.path.rstrip('/').rsplit('/', 1)[-1] or 'health'}"


def _plan_files(plans_dir: Path) -> list[Path]:
    return sorted([*plans_dir.glob("*.yaml"), *plans_dir.glob("*.yml")])


def _plan_accounts(plans_dir: Path) -> set[str]:
    """Account names of every blob location in the plans (any key: source, target, drill overrides)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and (match := _BLOB_ACCOUNT.match(node)):
            found.add(match.group(1))

    for path in _plan_files(plans_dir):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found
