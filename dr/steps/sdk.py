"""What the kinds that read Azure management SDK models (sql, traffic) share when mapping them.

Invariant: a value read from an SDK model leaves the mapping as the text ARM writes on the wire
(``"Primary"``), never as an enum member, whose ``str()`` is ``"ReplicationRole.PRIMARY"``.
"""

from __future__ import annotations

from typing import Any


def wire_text(value: Any) -> str | None:
    """An SDK enum member (a str subclass) or a plain string, as its wire text; None stays None."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
