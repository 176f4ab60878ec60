"""Microsoft.DocumentDB database accounts: regions, failover priorities, offline/online regions."""
