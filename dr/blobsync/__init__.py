"""The engine behind the ``blob_backup`` step: an incremental, verified, server-side container sync.

- :mod:`.model`    payloads and files (typed, small)
- :mod:`.transport` async clients with their own retry policies, source SAS for server-side copies
- :mod:`.store`    JSON files in the state container on the target account; sync records
- :mod:`.diff`     the resumable merge-join of the source and target listings into manifest chunks
- :mod:`.copier`   server-side copies of a chunk (with the one Azurite fallback), verification, pending copies
- :mod:`.probe`    one bounded request: does an account answer at all (failover, pre-flight)
"""
