"""The emulator's control plane: what a test or the devstack does to the emulated world (not ARM), shaped
like one more moto service next to the ARM providers.

- `models.py`: `ControlBackend`, the control plane's backend (reset, seed, settings, faults, region
  outages, endpoint health, the request log, LRO transitions, DNS answers, replication lag, the caller's
  permissions per scope);
- `faults.py`, `requestlog.py`: the state the server's front door consults on every ARM request;
- `seed.py`: the estate format `seed` loads; `bodies.py`: the other request bodies;
- `responses.py` (thin aiohttp handlers) and `urls.py` (the routes under /_emulator/).

It depends on the data plane (the estate and the providers' backends); no provider imports it. The server
(`devstack/arm/server.py`) composes both, and its `ArmEmulator` exposes every `ControlBackend` method.
"""

from .faults import Fault, FaultRegistry, FaultSpec
from .models import ControlBackend, OperationInfo, RegionStatus
from .requestlog import RequestLog, RequestRecord
from .responses import ControlResponses
from .seed import EstateSeed, apply_seed, load_seed
from .urls import routes

__all__ = [
    "ControlBackend",
    "ControlResponses",
    "EstateSeed",
    "Fault",
    "FaultRegistry",
    "FaultSpec",
    "OperationInfo",
    "RegionStatus",
    "RequestLog",
    "RequestRecord",
    "apply_seed",
    "load_seed",
    "routes",
]
