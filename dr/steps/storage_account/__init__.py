"""storage_account_failover: customer-managed failover of a geo-redundant storage account (Microsoft.Storage
StorageAccounts_Failover), through azure-mgmt-storage.

Unplanned (the disaster case): the secondary becomes the primary and the account becomes LRS; every write after
the account's Last Sync Time (``geoReplicationStats.lastSyncTime``) is lost, so the step reads it first and
reports ``rpo_estimate_seconds = now - lastSyncTime``. Planned (``failoverType=Planned``): Azure synchronises
first, the regions swap and the account stays geo-redundant; no data is lost, and it needs both regions up.
``planned_if_available`` picks planned while the primary answers and unplanned otherwise. ``begin`` refuses (a
PreconditionError naming the reason) what the service would refuse, from the same rules the pre-flight reports:
a SKU that is not geo-redundant, ``canFailover`` false, a failover already running, a planned failover without
both regions or with NFS 3.0. The failover is one long-running ARM operation, looked at once per ``poll`` (the
orchestrator waits on durable timers, honouring Retry-After). A drill only reads and says what a failover would
do and lose.

Invariant: at most one failover asked for per step: a failover already running (``failoverInProgress``) is waited
for, never asked again; an account whose primary is already ``target_location`` is left alone.

Modules: :mod:`.model` (ids, the account as read, the state), :mod:`.rules` (the decisions, pure),
:mod:`.arm` (the only SDK caller), :mod:`.step` (the kind).
"""
