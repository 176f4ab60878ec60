"""Microsoft.Storage, management plane only: storage accounts, geo-replication stats, customer-managed failover
(blob data is Azurite's)."""
