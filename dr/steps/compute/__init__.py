"""app_scale: start or scale out standby compute for a failover, through azure-mgmt-web: an App Service plan's
instance count (``sku.capacity``, AppServicePlans_CreateOrUpdate, a long-running operation) and the running state
of apps on it (WebApps_Start / WebApps_Stop).

Desired state, not toggles: begin reads the plan and the apps, records what they were (``plan_before``,
``sites_before`` in the report: the failback's reverser scales back to them and stops what the failover started),
changes only what differs, and the step is done when a read-back shows the plan at its capacity with its workers
there and every app in its state. A repeated call finds the work done and says so. ``scale: at_least`` (the
default) never scales a plan down during a failover; ``exactly`` (a failback's) sets the count.

Drill: with ``drill_plan_id`` / ``drill_site_ids`` the drill acts on those (teardown puts them back as they were);
without, production is only read and the step reports what a failover would change.

Modules: :mod:`.planner` (the decisions, pure), :mod:`.arm` (the only SDK caller), :mod:`.step` (the kind).
"""
