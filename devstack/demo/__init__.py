"""The one-command demo of a failover (or drill) on the local stack."""
