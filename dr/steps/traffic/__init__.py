"""traffic_manager_failover: move a Traffic Manager profile's traffic to the secondary's endpoints.

Desired state, not toggles: begin reads the profile, works out the settings the plan wants for its
endpoints, and PATCHes only the endpoints that differ (a re-run finds nothing to change and says "already
switched"). Before the first PATCH the secondary must be healthy: no to_endpoint is Degraded or Stopped
in Traffic Manager, and an HTTP probe of its health URL (the plan's ``health_url``, or one derived from the
endpoint's target and the profile's monitorConfig, as Traffic Manager itself probes) answers as expected.
poll then re-reads the profile and probes until DNS would answer with a secondary endpoint that is Online
and the health URL answers, within ``verify_window``.

What each switch means (routing method of the profile → switch):
- Priority → ``disable``: from_endpoints Disabled, to_endpoints Enabled.
- Priority → ``swap_priorities``: to_endpoints (in plan order) take the best priority values of the profile,
  every other endpoint keeps its relative order on the values left; to_endpoints are Enabled, from_endpoints
  stay as they are (the primary remains the fallback). Priorities must stay unique in a profile, so an
  endpoint may be parked on a free value for one PATCH while the others move.
- Weighted → ``disable``: from_endpoints Disabled, to_endpoints Enabled, weights untouched: a hard cut.
- Weighted → ``shift_weight``: to_endpoints Enabled with ``to_weight`` (default 1000, the maximum), from
  endpoints weight 1 and left enabled: the primary keeps a trickle (~0.1 %) so it stays observable, and
  Traffic Manager sends it nothing while it is Degraded anyway.
PATCHes that add capacity (enable, weight up) go first, priority moves next, those that remove capacity
(disable, weight down) last, so no moment leaves the profile without a serving endpoint.

Anti-flap: before its first PATCH a failover tags the profile ``dr-last-failover`` (ISO time),
``dr-last-failover-run`` and ``dr-last-failover-plan``. A later failover of that profile (any plan: a
failback is a flap too) within the plan's ``cooldown`` is refused unless the operator forces it; the run
that wrote the tag is never refused by it. Tags survive restarts and are visible in the portal.

Drill: without ``drill_profile_id`` the production profile is only read, the secondary checked and the
changes a failover would make reported. With it, the test profile is switched and verified like production;
its original endpoint settings are kept in ``state`` and in a ``dr-drill-baseline`` tag written before the
first PATCH (so a begin retried after a partial switch still knows the true baseline), and teardown puts
them back.

Pre-flight (check): every rule begin applies before its first PATCH, reported read-only (failed where begin
would refuse, e.g. a Degraded secondary or an active cool-down without force), plus warnings an operator should
see: the primary already Degraded, a profile whose TTL and probe settings make clients follow slowly. A drill
checks its test profile when it has one, else the production profile.

Modules, each with the invariant it keeps:

- :mod:`.model`    profile views, endpoint settings, tags and the step's state (plain values, no SDK)
- :mod:`.planner`  the decisions, pure: desired settings, PATCH order, DNS answer, cool-down, verification
- :mod:`.probes`   the secondary's health probes, as Traffic Manager probes it
- :mod:`.arm`      Traffic Manager through azure-mgmt-trafficmanager (the only SDK user; errors translated)
- :mod:`.gate`     the rules before the first write, one function for begin (raises the first refusal) and
                   the pre-flight check (reports every verdict): the two cannot disagree
- :mod:`.step`     the kind: check, begin, poll, teardown
"""
