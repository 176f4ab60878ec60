"""dns_record_switch: point a CNAME record of an Azure DNS zone from one target to another (the Front Door bypass:
the public name from the Front Door endpoint to a pre-staged Traffic Manager profile, or back).

Desired state: a record already on ``to_target`` is left alone ("already switched"); one on ``from_target`` is
rewritten with its etag in If-Match, so a change someone made since it was read is never overwritten (ARM
answers 412; the step reads again on its retry and decides again); one on any other target is refused, as is a
missing record. Clients follow within the record's TTL: the step reports it as
``expected_dns_convergence_seconds`` and the what-if model counts it. poll re-reads the record until it holds
the target and, when the plan gives ``health_url``, the target answers there.

Drill: with ``drill_record`` (another name in the zone) that record is switched instead (created with
If-None-Match: * when absent), its baseline kept in the record's own metadata, and teardown puts it back (or
deletes it) under the etag it wrote; without it, the production record is only read.

Modules: :mod:`.arm` (the only SDK user; views of a record), :mod:`.step` (the kind, its rules and decisions).
"""
