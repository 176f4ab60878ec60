"""ARM emulator for the devstack: Microsoft.Sql, Traffic Manager and Microsoft.Authorization permissions over
HTTPS, shaped like moto (per provider: urls, thin responses, models holding state, errors carrying ARM's codes)
plus a control plane of the same shape (`control/`) for what tests do to the world (seed, faults, region
outages, LRO timing, DNS answers, the caller's permissions); `server.py` composes the two.

    from devstack.arm import ArmEmulator, StaticTokenCredential
    with ArmEmulator(state_dir=tmp_path) as arm:
        arm.seed("devstack/arm/example_estate.yaml")
        sql = SqlManagementClient(StaticTokenCredential(), SUB, base_url=arm.url,
                                  connection_verify=str(arm.ca_path))
"""

from .auth import AsyncStaticTokenCredential, StaticTokenCredential
from .control import (
    ControlBackend,
    EstateSeed,
    Fault,
    FaultSpec,
    OperationInfo,
    RegionStatus,
    RequestRecord,
    load_seed,
)
from .errors import ArmError
from .estate import EmulatorSettings
from .server import ArmEmulator
from .sql.models import OPERATION_KINDS
from .trafficmanager.models import ResolveAnswer, ResolveCandidate

EXAMPLE_ESTATE = __file__.rsplit("/", 1)[0] + "/example_estate.yaml"

__all__ = [
    "EXAMPLE_ESTATE",
    "OPERATION_KINDS",
    "ArmEmulator",
    "ArmError",
    "AsyncStaticTokenCredential",
    "ControlBackend",
    "EmulatorSettings",
    "EstateSeed",
    "Fault",
    "FaultSpec",
    "OperationInfo",
    "RegionStatus",
    "RequestRecord",
    "ResolveAnswer",
    "ResolveCandidate",
    "StaticTokenCredential",
    "load_seed",
]
