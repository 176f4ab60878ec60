// The DR orchestrator in Azure (azd: `azd up`). Subscription scope: it creates its own resource group and
// reaches into the resource groups of the plan targets (primary/secondary storage, SQL servers, Traffic
// Manager profiles) only to grant the app's identity the roles a plan needs there.
//
//   rg-<env>
//   ├─ id-dr-<token>      user-assigned identity (the app's only credential)
//   ├─ stdr<token>        app storage: AzureWebJobsStorage (identity-based), Durable state, deployment
//   │                     package, run reports (dr-reports); shared keys off. Blob sync state (dr-state)
//   │                     lives on each plan's TARGET account, not here.
//   ├─ log-/appi-dr-<token>  Log Analytics + Application Insights (Entra-only ingestion)
//   ├─ plan-/func-dr-<token> Flex Consumption plan + Python 3.13 function app  (azd service "api")
//   ├─ dts-dr-<token>     Durable Task Scheduler + task hub (only with durableBackend=DurableTaskScheduler)
//   └─ ag-dr-<token>      action group → https://<app>/api/alerts (common alert schema) + example rules
// See docs/deploy.md for the walkthrough and the RBAC table.
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------- azd --

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region of the orchestrator. Pick a third region, or the secondary: never only the primary, or an outage there takes the orchestrator down with it. Must offer Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object ID of the person or pipeline running azd (AZURE_PRINCIPAL_ID): may read run reports and, with Durable Task Scheduler, use its dashboard. Empty grants nothing.')
param principalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

// -------------------------------------------------------------------------------------------- app --

@description('Durable task hub name (app setting DR_TASK_HUB, read by host.json). 3-45 letters and digits, starting with a letter.')
@minLength(3)
@maxLength(45)
param taskHubName string = 'drorchestrator'

@description('Folder of DR plans inside the deployed package (DR_PLANS_DIR).')
param plansDir string = 'plans/'

@description('NCRONTAB of the standing blob sync (DR_SYNC_SCHEDULE).')
param syncSchedule string = '0 */15 * * * *'

@description('NCRONTAB of the stuck-run watchdog (DR_WATCHDOG_SCHEDULE); the timer does not load without it.')
param watchdogSchedule string = '0 */5 * * * *'

@description('NCRONTAB of the plan readiness evaluation (DR_READINESS_SCHEDULE); the timer does not load without it.')
param readinessSchedule string = '0 */30 * * * *'

@description('Durable Functions backend: AzureStorage (default, the app\'s storage account) or DurableTaskScheduler (managed, more throughput).')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableBackend string = 'AzureStorage'

@allowed([
  'Consumption'
  'Dedicated'
])
param durableTaskSchedulerSku string = 'Consumption'

@description('Flex Consumption scale-out ceiling.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Always-ready instances of the "http" Flex Consumption scale group (the alert webhook, the operator API). Billed while idle; 0 scales it from zero, a cold start when an outage fires.')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 1

@description('Always-ready instances of the "durable" scale group (orchestrations, activities, entities). A region outage starts every plan at once, and one instance runs one Python worker (one core, its interpreter lock): two take the first minutes of a 50-plan storm without waiting for scale-out (docs/rto-benchmark.md). Billed while idle; 0 scales it from zero.')
@minValue(0)
@maxValue(20)
param alwaysReadyDurableInstances int = 2

@description('Spread the app (and its storage, ZRS) over availability zones. Flex Consumption then bills at least two always-ready instances per function group; the region must offer zones.')
param zoneRedundant bool = false

@description('Client ID of an Entra ID app registration exposing app roles dr.operator and dr.approver. Set: App Service authentication guards the operator routes and DR_ENFORCE_ROLES=true. Empty: function key only, DR_ENFORCE_ROLES=false.')
param authClientId string = ''

@description('Tenant of that app registration; default: the deployment tenant.')
param authTenantId string = ''

// ---------------------------------------------------------------------------------- plan targets --
// Comma-separated ARM resource IDs (azd env vars, see main.parameters.json). Empty: no role assignment.

@description('Storage accounts blob steps copy FROM (plan source.account_url): Storage Blob Data Reader.')
param primaryStorageAccountIds string = ''

@description('Storage accounts blob steps copy TO (plan target.account_url): Storage Blob Data Contributor.')
param secondaryStorageAccountIds string = ''

@description('Also grant Storage Blob Delegator on the primaries: only needed when blob read access on a primary is granted below account scope (per container) and the copy uses a user-delegation SAS.')
param grantBlobDelegatorOnPrimary bool = false

@description('SQL servers geo-restore steps restore ONTO (plan target_server_id): SQL DB Contributor.')
param sqlRestoreTargetServerIds string = ''

@description('SQL servers geo-restore steps restore FROM (server of plan source_database_id): Reader (the geo-backup lookup only).')
param sqlRestoreSourceServerIds string = ''

@description('Failover groups to fail over (plan failover_group_id, on the server to promote): a custom role with only the failover-group actions on that server (see app/rbac/sql-failover-group-operator.bicep).')
param sqlFailoverGroupIds string = ''

@description('Grant failover-group rights with that custom role (true) or with the built-in SQL Server Contributor (false: for a deployer who may assign roles but not define them; broader, it can also change the server\'s administrator credentials).')
param sqlFailoverCustomRole bool = true

@description('Grant, in each resource group holding one of the SQL servers above, a custom role that reads only Azure SQL operation status (needed to poll geo-restore/failover; see app/rbac/sql-operation-status-reader.bicep).')
param grantSqlOperationStatusRead bool = true

@description('Traffic Manager profiles traffic steps switch (plan profile_id): Traffic Manager Contributor.')
param trafficManagerProfileIds string = ''

// ------------------------------------------------------------------------------------- alerting --

@description('Name of the example metric alert (primary storage Availability). Must equal an entry of a plan\'s trigger.alert_rules. Empty: no rule.')
param availabilityAlertName string = 'dr-primary-storage-availability'

@description('Storage account the availability rule watches; default: the first primaryStorageAccountIds entry.')
param availabilityAlertTargetId string = ''

@minValue(1)
@maxValue(100)
param availabilityThreshold int = 99

@description('Name of the example Resource Health alert on the primary\'s resource group. Empty: no rule.')
param resourceHealthAlertName string = 'dr-primary-resource-health'

@description('Comma-separated e-mail addresses the action group notifies besides the webhook.')
param notificationEmails string = ''

// ------------------------------------------------------------------------------------- derived --

var roles = loadJsonContent('app/built-in-roles.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var useDurableTaskScheduler = durableBackend == 'DurableTaskScheduler'
var enforceRoles = !empty(authClientId)

var functionAppName = 'func-dr-${resourceToken}'
var storageAccountName = 'stdr${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var reportsContainerName = 'dr-reports'
// Name of the container the blob steps keep their sync records in, on each step's TARGET account (the
// identity's Storage Blob Data Contributor there covers it). Nothing is created for it here.
var stateContainerName = 'dr-state'

// Comma-separated parameters become lists; blanks are dropped.
var primaryStorageIds = filter(split(primaryStorageAccountIds, ','), id => !empty(trim(id)))
var secondaryStorageIds = filter(split(secondaryStorageAccountIds, ','), id => !empty(trim(id)))
var sqlTargetServerIds = filter(split(sqlRestoreTargetServerIds, ','), id => !empty(trim(id)))
var sqlSourceServerIds = filter(split(sqlRestoreSourceServerIds, ','), id => !empty(trim(id)))
var failoverGroupIds = filter(split(sqlFailoverGroupIds, ','), id => !empty(trim(id)))
var trafficProfileIds = filter(split(trafficManagerProfileIds, ','), id => !empty(trim(id)))
var emailAddresses = filter(split(notificationEmails, ','), address => !empty(trim(address)))

// A failover group ID is <server ID>/failoverGroups/<name>: the role goes on the server.
var failoverServerIds = [for id in failoverGroupIds: split(trim(id), '/failoverGroups/')[0]]

// "<subscription>/<resource group>" of every SQL server named above, for the operation-status role.
var sqlServerIds = concat(sqlTargetServerIds, sqlSourceServerIds, failoverServerIds)
var sqlResourceGroupKeys = [for id in sqlServerIds: toLower('${split(trim(id), '/')[2]}/${split(trim(id), '/')[4]}')]

var primaryAlertTarget = !empty(availabilityAlertTargetId) ? availabilityAlertTargetId : (empty(primaryStorageIds) ? '' : trim(primaryStorageIds[0]))
var primaryResourceGroupScope = empty(primaryAlertTarget) ? '' : '/subscriptions/${split(primaryAlertTarget, '/')[2]}/resourceGroups/${split(primaryAlertTarget, '/')[4]}'

// --------------------------------------------------------------------------------- resources --

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity/user-assigned-identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-dr-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-dr-${resourceToken}'
    applicationInsightsName: 'appi-dr-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage/function-storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    skuName: zoneRedundant ? 'Standard_ZRS' : 'Standard_LRS'
    containerNames: [
      deploymentContainerName
      reportsContainerName
    ]
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module durableTaskScheduler 'app/durable-task-scheduler.bicep' = if (useDurableTaskScheduler) {
  name: 'durable-task-scheduler'
  scope: rg
  params: {
    name: 'dts-dr-${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    skuName: durableTaskSchedulerSku
    identityPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    durableTaskDataContributorRoleId: roles['Durable Task Data Contributor']
  }
}

// With Durable Task Scheduler, host.json's storageProvider is overridden from app settings
// (AzureFunctionsJobHost__<path>), so the same package runs on either backend.
var durableTaskSchedulerSettings = useDurableTaskScheduler ? {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskScheduler!.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
} : {}

var drSettings = {
  DR_TASK_HUB: taskHubName
  DR_PLANS_DIR: plansDir
  DR_REPORTS_ACCOUNT_URL: storage.outputs.blobEndpoint
  DR_REPORTS_CONTAINER: reportsContainerName
  DR_STATE_CONTAINER: stateContainerName
  DR_ENFORCE_ROLES: enforceRoles ? 'true' : 'false'
  DR_SYNC_SCHEDULE: syncSchedule
  DR_WATCHDOG_SCHEDULE: watchdogSchedule
  DR_READINESS_SCHEDULE: readinessSchedule
  DR_ARM_ENDPOINT: environment().resourceManager
}

module api 'core/host/flex-function-app.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-dr-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    appSettings: union(drSettings, durableTaskSchedulerSettings)
    pythonVersion: '3.13'
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    alwaysReadyDurableInstances: alwaysReadyDurableInstances
    zoneRedundant: zoneRedundant
    authClientId: authClientId
    authTenantId: !empty(authTenantId) ? authTenantId : tenant().tenantId
  }
}

module ownRoles 'app/rbac-own.bicep' = {
  name: 'rbac-own'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    roles: roles
  }
}

// ------------------------------------------------------------------- roles on plan targets --
// Each module is deployed into the target's own subscription and resource group.

module primaryStorageRoles 'app/rbac/storage-account.bicep' = [for (id, i) in primaryStorageIds: {
  name: 'rbac-primary-storage-${i}'
  scope: resourceGroup(split(trim(id), '/')[2], split(trim(id), '/')[4])
  params: {
    storageAccountName: last(split(trim(id), '/'))
    principalId: identity.outputs.principalId
    roleDefinitionIds: grantBlobDelegatorOnPrimary ? [
      roles['Storage Blob Data Reader']
      roles['Storage Blob Delegator']
    ] : [
      roles['Storage Blob Data Reader']
    ]
  }
}]

module secondaryStorageRoles 'app/rbac/storage-account.bicep' = [for (id, i) in secondaryStorageIds: {
  name: 'rbac-secondary-storage-${i}'
  scope: resourceGroup(split(trim(id), '/')[2], split(trim(id), '/')[4])
  params: {
    storageAccountName: last(split(trim(id), '/'))
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      roles['Storage Blob Data Contributor']
    ]
  }
}]

module sqlTargetServerRoles 'app/rbac/sql-server.bicep' = [for (id, i) in sqlTargetServerIds: {
  name: 'rbac-sql-restore-target-${i}'
  scope: resourceGroup(split(trim(id), '/')[2], split(trim(id), '/')[4])
  params: {
    serverName: last(split(trim(id), '/'))
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      roles['SQL DB Contributor']
    ]
  }
}]

module sqlSourceServerRoles 'app/rbac/sql-server.bicep' = [for (id, i) in sqlSourceServerIds: {
  name: 'rbac-sql-restore-source-${i}'
  scope: resourceGroup(split(trim(id), '/')[2], split(trim(id), '/')[4])
  params: {
    serverName: last(split(trim(id), '/'))
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      roles['Reader']
    ]
  }
}]

// Failover-group failover (Microsoft.Sql/servers/failoverGroups/failover/action and
// .../forceFailoverAllowDataLoss/action) is in no SQL built-in role narrower than SQL Server Contributor
// (Microsoft.Sql/servers/*, which includes changing the administrator login); SQL DB Contributor has
// Microsoft.Sql/servers/databases/* only. Least privilege: a custom role with just those actions and the
// reads the step does, on the server to promote.
module failoverServerRoles 'app/rbac/sql-failover-group-operator.bicep' = [for (id, i) in failoverServerIds: if (sqlFailoverCustomRole) {
  name: 'rbac-sql-failover-server-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    serverName: last(split(id, '/'))
    principalId: identity.outputs.principalId
  }
}]

// Without permission to define roles: the built-in role that has the failover actions (broader).
module failoverServerBuiltInRoles 'app/rbac/sql-server.bicep' = [for (id, i) in failoverServerIds: if (!sqlFailoverCustomRole) {
  name: 'rbac-sql-failover-server-builtin-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    serverName: last(split(id, '/'))
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      roles['SQL Server Contributor']
    ]
  }
}]

// One per distinct resource group (later duplicates are skipped by the loop filter).
module sqlOperationStatusRoles 'app/rbac/sql-operation-status-reader.bicep' = [for (key, i) in sqlResourceGroupKeys: if (grantSqlOperationStatusRead && indexOf(sqlResourceGroupKeys, key) == i) {
  name: 'rbac-sql-operation-status-${i}'
  scope: resourceGroup(split(key, '/')[0], split(key, '/')[1])
  params: {
    principalId: identity.outputs.principalId
  }
}]

module trafficManagerRoles 'app/rbac/traffic-manager-profile.bicep' = [for (id, i) in trafficProfileIds: {
  name: 'rbac-traffic-manager-${i}'
  scope: resourceGroup(split(trim(id), '/')[2], split(trim(id), '/')[4])
  params: {
    profileName: last(split(trim(id), '/'))
    principalId: identity.outputs.principalId
    roleDefinitionIds: [
      roles['Traffic Manager Contributor']
    ]
  }
}]

// ------------------------------------------------------------------------------ alert wiring --

// The action group's webhook gets the function key after deploy, from scripts/wire-alert-webhook.sh (azd
// hooks in azure.yaml): the key does not exist before code is deployed.
module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    tags: tags
    actionGroupName: 'ag-dr-${resourceToken}'
    actionGroupShortName: 'dr-orch'
    functionAppName: api.outputs.name
    notificationEmails: emailAddresses
    availabilityAlertName: availabilityAlertName
    availabilityAlertTargetId: primaryAlertTarget
    availabilityThreshold: availabilityThreshold
    resourceHealthAlertName: resourceHealthAlertName
    resourceHealthScope: primaryResourceGroupScope
  }
}

// ----------------------------------------------------------------------------------- outputs --
// azd stores these in .azure/<env>/.env. No key or secret is ever output.

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostName}'
output AZURE_CLIENT_ID string = identity.outputs.clientId
output DR_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output DR_TASK_HUB string = taskHubName
output DR_DURABLE_BACKEND string = durableBackend
output DR_REPORTS_ACCOUNT_URL string = storage.outputs.blobEndpoint
output DR_ACTION_GROUP_ID string = alerts.outputs.actionGroupId
output DR_ACTION_GROUP_NAME string = alerts.outputs.actionGroupName
output DR_ALERT_WEBHOOK_RECEIVER string = alerts.outputs.webhookReceiverName
output DR_ALERT_RULES string = join(filter([
  alerts.outputs.availabilityAlertName
  alerts.outputs.resourceHealthAlertName
], name => !empty(name)), ',')
