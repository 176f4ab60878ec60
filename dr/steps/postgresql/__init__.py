"""postgresql_promote: Azure Database for PostgreSQL flexible server in the secondary region, by one of two
methods, each one ARM long-running operation begun in ``begin`` and looked at once per ``poll``
(:mod:`dr.azure_lro`).

``promote_replica`` PATCHes the read replica with ``replica.promoteMode: Standalone`` and ``promoteOption``
Planned (the replica first receives everything the primary has: no data loss; needs the primary) or Forced (at
once: loses the replica's lag). ``planned_then_forced`` is planned while the primary answers, forced when it does
not. The PATCH also tags the replica with the run that promoted it, so a retried call recognises its own
promotion. Refused as the service refuses it: a server that is not a replica, a planned promotion with the
primary unreachable. A drill only reads.

``geo_restore`` creates a new server in the source's paired region from the source's geo-redundant backup
(``createMode: GeoRestore``); it works while the source's region is down. The server is tagged (run, mode,
source): a re-run continues its own restore, any other server of that name is refused, never overwritten; a
drill restores under its own name and its teardown deletes only what it created. Refused when the source has no
geo-redundant backup.

Data at risk (``rpo_estimate_seconds`` and ``rpo_basis``): 0 for a planned promotion; the replica's lag (Azure
Monitor's ``physical_replication_delay_in_seconds``, read before a forced one, and unknown, never 0, when the
primary cannot be reached: what it had not sent is unknowable); the age of the source's newest backup for a
geo-restore, or the documented bound when it cannot be read.

Failback: a promoted replica has left its replication set for good; the way home that keeps every write is to
create a read replica of it in the primary region and switch over, which takes as long as seeding a whole server
and is an operator's task. What this app can do by itself is a geo-restore back (:mod:`dr.failback`), which loses
the writes after the last geo-backup; its checks say so.

Modules, each with the invariant it keeps:

- :mod:`.planning`  the decisions, pure: names, ownership tags, refusals, what a recovery may lose and why
- :mod:`.arm`       PostgreSQL through azure-mgmt-postgresqlflexibleservers (the only SDK caller)
- :mod:`.step`      the kind: check, begin, poll, teardown
"""
