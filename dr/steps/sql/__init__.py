"""sql_geo_restore and sql_failover_group: Azure SQL recovery through azure-mgmt-sql.

Both start one long-running ARM operation in ``begin`` and look at it once per ``poll`` (dr.azure_lro);
the orchestrator waits between looks on durable timers.

Geo-restore creates the target database from the source's geo-backup (createMode ``Recovery``). Every
database it creates is tagged (``dr-run``, ``dr-source``, ``dr-mode``...): a re-run recognises its own
restore (in progress or done) and never starts a second one, a database of any other origin is refused,
never overwritten, and a drill's teardown deletes only the database its own run created. A restore cannot
be cancelled in Azure: when a step times out, the restore runs on; a drill's teardown deletes it.

Failover group: a failover of the group onto the server named in its id, in the plan's ``failover_mode``:
planned (no data loss; needs the primary), forced (the primary region is down; loses the replication lag)
or planned_then_forced (Azure's tryPlannedBeforeForcedFailover: planned while the primary answers). A drill
only reads the group, the current primary's own view of it and the lag. Neither operation can be cancelled
once ARM accepted it. A forced failover the old primary could not hear leaves it reading Primary until it
reconnects: the step warns of the two primaries.

Before acting, each step records what data the recovery may lose (``rpo_estimate_seconds`` and
``rpo_basis``): the age of the last geo-backup; 0 for a planned failover; the replication lag read from the
primary before a forced one, and None (never 0) when that lag cannot be read. ``check`` reports, read-only,
what a run would meet (:class:`dr.steps.base.Check`).

Modules, each with the invariant it keeps:

- :mod:`.model`           resource ids, restore tags, each kind's state and how it reports an operation
- :mod:`.planning`        the decisions, pure: names, ownership, SKU, what a recovery may lose, error hints
- :mod:`.arm`             Azure SQL through azure-mgmt-sql (the only SDK caller; errors translated)
- :mod:`.geo_restore`     the sql_geo_restore kind
- :mod:`.failover_group`  the sql_failover_group kind
"""
