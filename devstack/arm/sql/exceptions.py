"""Microsoft.Sql's own error codes, from the error lists of the 2025-01-01 REST specs
(specification/sql/resource-manager/Microsoft.Sql/stable/2025-01-01/Servers.json, Databases.json,
FailoverGroups.json in Azure/azure-rest-api-specs)."""

from __future__ import annotations

from ..errors import ArmError


def invalid_database_request(detail: str) -> ArmError:
    return ArmError(
        400,
        "InvalidDatabaseCreateOrUpdateRequest",
        f"The request body for the create or update database operation is invalid: {detail}",
    )


def missing_source_database_id() -> ArmError:
    return ArmError(400, "MissingSourceDatabaseId", "Missing source database identifier.")


def invalid_source_database_id() -> ArmError:
    return ArmError(400, "InvalidSourceDatabaseId", "Invalid source database identifier.")


def source_database_not_found() -> ArmError:
    return ArmError(400, "SourceDatabaseNotFound", "The source database does not exist.")


def missing_recoverable_database_id() -> ArmError:
    return ArmError(400, "MissingRecoverableDatabaseId", "Missing recoverable database identifier.")


def invalid_recoverable_database_id() -> ArmError:
    return ArmError(400, "InvalidRecoverableDatabaseId", "Invalid recoverable database identifier.")


def missing_restore_point_in_time() -> ArmError:
    return ArmError(400, "MissingRestorePointInTime", "Missing restore point in time")


def unsupported_create_mode(mode: str) -> ArmError:
    return invalid_database_request(f"createMode '{mode}' is not supported by the devstack emulator.")


def remote_database_exists() -> ArmError:
    return ArmError(
        409, "RemoteDatabaseExists", "The destination database name already exists on the destination server."
    )


def conflicting_database_operation() -> ArmError:
    return ArmError(409, "ConflictingDatabaseOperation")


def conflicting_server_operation() -> ArmError:
    # Servers.json lists it as 409 (429 is ConflictingSubscriptionOperation).
    return ArmError(409, "ConflictingServerOperation", "An operation is currently in progress for the server.")


def invalid_server_parameter(detail: str) -> ArmError:
    return ArmError(400, "InvalidParameterValue", f"An invalid value was given to a parameter: {detail}")


def invalid_external_administrator_login() -> ArmError:
    return ArmError(400, "InvalidExternalAdministratorLogin", "Invalid or missing external administrator login name.")


def invalid_external_administrator_sid() -> ArmError:
    return ArmError(400, "InvalidExternalAdministratorSid", "Invalid or missing external administrator object id.")


def invalid_license_type() -> ArmError:
    return ArmError(400, "InvalidLicenseType", "The specified license type is invalid.")


def method_not_allowed_on_create_mode() -> ArmError:
    return ArmError(
        400, "MethodNotAllowedOnSpecifiedCreateMode", "Http Patch or Merge not allowed on the specified create mode"
    )


def source_resource_id_with_other_source() -> ArmError:
    return invalid_database_request(
        "When sourceResourceId is specified, sourceDatabaseId, recoverableDatabaseId, restorableDroppedDatabaseId "
        "and sourceDatabaseDeletionDate must not be specified and createMode must be PointInTimeRestore, Restore "
        "or Recovery."
    )


def failover_group_busy() -> ArmError:
    return ArmError(409, "FailoverGroupBusy")


def failover_group_invalid(detail: str) -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalid",
        f"The create or update failover group request body is empty or invalid: {detail}",
    )


def failover_group_invalid_read_write_endpoint() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalidReadWriteEndpoint",
        "The readWriteEndpoint field is required for create or update requests.",
    )


def failover_group_grace_period_required() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalidReadWriteEndpointFields",
        "The property failoverWithDataLossGracePeriodMinutes must be provided when failover policy Automatic "
        "is selected for the read-write endpoint.",
    )


def failover_group_grace_period_with_manual() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalidReadWriteEndpointFieldsForManualPolicy",
        "Grace period value should not be provided when failover policy Manual is selected for the "
        "read-write endpoint.",
    )


def failover_group_invalid_partner() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalidPartner",
        "The given partners field in create or update failover group request body is empty or invalid.",
    )


def failover_group_unsupported_partner_count() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestUnsupportedPartnerCount",
        "Only one partner server is supported.",
    )


def failover_group_invalid_databases() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalidDatabases",
        "The provided databases in the request are not valid database resource IDs.",
    )


def failover_group_invalid_database_server() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalidDatabaseServer",
        "One or more of the provided databases do not exist on the primary server of the failover group. "
        "Please make sure that all the databases exist on the primary server.",
    )


def failover_group_invalid_read_only_target() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupCreateOrUpdateRequestInvalidReadOnlyEndpointTargetServer",
        "The property targetServer of the read-only endpoint must be a valid server present among the "
        "partnerServers configured for the failover group.",
    )


def failover_group_same_region() -> ArmError:
    return ArmError(
        400,
        "InvalidFailoverGroupRegion",
        "Servers specified in a Failover Group need to reside in different regions to provide isolation.",
    )


def failover_group_request_on_secondary() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupUpdateOrDeleteRequestOnSecondary",
        "Modifications to the failover group are not allowed on a secondary server. Execute the request on "
        "the primary server.",
    )


def failover_request_on_primary() -> ArmError:
    return ArmError(
        400,
        "FailoverGroupFailoverRequestOnPrimary",
        "The failover request should be initiated on the secondary server of failover group.",
    )


def database_in_other_failover_group() -> ArmError:
    return ArmError(
        409,
        "DatabaseBelongsToOtherFailoverGroup",
        "Database belongs to other Failover Group and cannot be consider a part of this one.",
    )


def planned_failover_timed_out() -> ArmError:
    # FailoverGroups.json (2025-01-01), error list of FailoverGroups_Failover: what a planned failover
    # ends with when the primary's side (its region down) never answers.
    return ArmError(
        400,
        "PlannedFailoverTimedOut",
        "User invoked planned failover, and it timed out while trying to contact the partner management service.",
    )


def server_not_found() -> ArmError:
    return ArmError(400, "ServerNotFound", "The requested server was not found.")
