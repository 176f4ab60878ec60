"""Microsoft.Sql: servers, databases, recoverable databases, failover groups, replication links."""
