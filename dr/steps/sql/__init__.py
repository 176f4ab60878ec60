"""sql_geo_restore and sql_failover_group: Azure SQL recovery through azure-mgmt-sql.

Both start one long-running ARM operation in ``begin`` and look at it once per ``poll`` (dr.azure_lro);
the orchestrator waits between looks on durable timers.

Geo-restore creates the target database from the source's geo-backup (createMode ``Recovery``). Every
database it creates is tagged (``dr-run``, ``dr-source``, ``dr-mode``...): a re-run recognises its own
restore (in progress or done) and never starts a second one, a database of any other origin is refused,
never overwritten, and a drill's teardown deletes only the database its own run created. A restore cannot
be cancelled in Azure: when a step times out, the restore runs on; a drill's teardown deletes it.

Failover group: a planned failover (no data loss) of the group onto the server named in its id, or a
forced one (``allow_data_loss: true``) when the primary region is down. A drill only reads the group.
Neither operation can be cancelled once ARM accepted it.

Before acting, each step records what data the recovery may lose (``rpo_estimate_seconds``): the age of
the last geo-backup, or the failover group's replication lag (else its data-loss grace period as a bound).

Modules, each with the invariant it keeps:

- :mod:`.model`           resource ids, restore tags, each kind's state and how it reports an operation
- :mod:`.planning`        the decisions, pure: names, ownership, SKU, what a recovery may lose, error hints
- :mod:`.arm`             Azure SQL through azure-mgmt-sql (the only SDK caller; errors translated)
- :mod:`.geo_restore`     the sql_geo_restore kind
- :mod:`.failover_group`  the sql_failover_group kind
"""
