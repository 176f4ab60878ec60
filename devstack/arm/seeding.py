"""What every section of the estate format shares (devstack/arm/example_estate.yaml): the model base, finding the
provider a section seeds, and resources a seed names by reference.

In the data plane, beside the estate, so a provider's own seed section (cdn/seed.py, dns/seed.py, ...) can use it
and the control plane's seed (control/seed.py) can compose them without any provider importing the control plane.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .estate import Estate


class SeedModel(BaseModel):
    """A part of the estate format: an unknown key is refused, so a misspelt one never seeds silently."""

    model_config = ConfigDict(extra="forbid")


def seeded_provider[P](estate: Estate, backend_type: type[P], namespace: str, *, needed: bool) -> P | None:
    """The estate's backend of this type. None when the emulator has none and the seed names nothing for it; a seed
    that names resources of a provider the emulator lacks is refused."""
    backend = next((p for p in estate.providers if isinstance(p, backend_type)), None)
    if backend is None and needed:
        raise ValueError(f"the emulator has no {namespace} provider")
    return backend


class References[T]:
    """Resources a seed refers to by name, or as 'resource-group/name' when two resource groups hold the same name
    (the first seeded answers the bare name)."""

    def __init__(self) -> None:
        self._found: dict[str, T] = {}

    def add(self, resource_group: str, name: str, resource: T) -> None:
        self._found.setdefault(name.lower(), resource)
        self._found[f"{resource_group}/{name}".lower()] = resource

    def get(self, reference: str) -> T | None:
        return self._found.get(reference.lower())
