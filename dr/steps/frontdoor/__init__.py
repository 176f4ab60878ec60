"""front_door_origins: move an Azure Front Door (Standard/Premium) origin group to the secondary's origins.

Desired state, not toggles: begin reads the origin group and its origins, works out the settings the plan wants
(``disable``: from_origins Disabled, to_origins Enabled; ``priority``: to_origins Enabled at priority 1,
from_origins at ``demoted_priority``, still enabled, so Front Door falls back to them only when every
priority-1 origin fails its probes), and PATCHes only the origins that differ: a re-run finds nothing to change.
Origin PATCHes are ARM long-running operations (AFDOrigins_Update: 202 + Azure-AsyncOperation while the change
deploys to the edge): begin starts them (capacity first: enabling and promoting before disabling and demoting)
and keeps their references; poll watches them, then verifies.

Before the first PATCH the secondary must be fit: Front Door's own view of each to_origin (Azure Monitor's
OriginHealthPercentage of the profile, per origin; an origin Front Door does not probe yet, a disabled one,
has none) must not be below ``min_health_percent``, and one probe of each to_origin answers, as Front Door
probes it (the origin group's healthProbeSettings: protocol, path, port, origin host header) or at the plan's
``health_url``. Verified when every PATCH succeeded, the origins read as desired, and every to_origin is
healthy in Front Door's view (or, while Front Door has no data point for it yet, its probe answers), within
``verify_window``.

Drill: without ``drill_profile_id`` only reads and reports what a failover would change. With it, the
same-named origin group of the test profile is switched and verified like production; its baseline is kept
in ``state`` and in the test profile's ``dr-drill-baseline`` tag (written before the first PATCH), and teardown
puts it back.

Modules: :mod:`.model` (views and state, no SDK), :mod:`.planner` (the decisions, pure), :mod:`.arm` (the
only SDK user), :mod:`.gate` (the rules before the first write, for begin and the pre-flight alike),
:mod:`.step` (the kind).
"""
