"""cosmos_failover: make another region the write region of a Cosmos DB account (single-region writes).

Three ARM operations of Microsoft.DocumentDB/databaseAccounts, each long-running (begun in one call, looked at
once per poll through :mod:`dr.azure_lro`): ``failoverPriorityChange`` (the target region gets priority 0; a
planned failover, no data loss, needs the current write region), ``offlineRegion`` (the current write region is
taken offline and the region of best priority left takes the writes; a forced failover during an outage, losing
what had not replicated, bounded by the account's consistency) and ``onlineRegion`` (an offline target is
brought back before it can take priority 0, as a failback needs).

What the service refuses is refused before any call, with its reason: an account with one region, a target
region that is not one of the account's, an account with multi-region writes (every region already takes
writes; failover priorities there only order the regions for conflicts and outages). A drill only reads and
says what a failover would do and lose. The write region found before the change is recorded
(``original_write_region``) for the failback.

Modules, each with the invariant it keeps:

- :mod:`.planning`  the decisions, pure: refusals, the new priorities, what a failover may lose and why
- :mod:`.arm`       Cosmos DB through azure-mgmt-cosmosdb (the only SDK caller; errors translated)
- :mod:`.step`      the kind: check, begin, poll
"""
