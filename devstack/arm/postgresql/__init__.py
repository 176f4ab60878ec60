"""Microsoft.DBforPostgreSQL flexible servers: read replicas, promotion, geo-restore, backups, replica lag."""
