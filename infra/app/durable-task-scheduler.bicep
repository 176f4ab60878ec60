// Durable Task Scheduler: the managed Durable Functions backend, for more orchestration throughput than
// the Azure Storage backend (no queue polling, no table scans; built-in dashboard). Deployed only when
// main.bicep's durableBackend is 'DurableTaskScheduler'.
//
// The app reaches it through DURABLE_TASK_SCHEDULER_CONNECTION_STRING
// (Endpoint=...;Authentication=ManagedIdentity;ClientID=<identity client id>) and the host.json
// storageProvider {"type": "azureManaged", "connectionStringName": "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"};
// main.bicep sets both (the latter as an AzureFunctionsJobHost__ override). See docs/deploy.md.
param name string
param location string
param tags object = {}

@description('Task hub name: the same value as DR_TASK_HUB (host.json hubName).')
param taskHubName string

@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string = 'Consumption'

@description('Dedicated capacity units (ignored for Consumption).')
@minValue(1)
@maxValue(3)
param dedicatedCapacity int = 1

@description('Client IP ranges allowed to reach the scheduler. An empty list denies everyone; the app calls it over the public endpoint, so the default admits all (access is still Entra-authenticated and RBAC-checked).')
param ipAllowlist array = [
  '0.0.0.0/0'
]

@description('Principal ID of the function app\'s identity (Durable Task Data Contributor).')
param identityPrincipalId string

@description('Principal ID of the deployer, for the scheduler dashboard; empty grants nothing.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('GUID of the built-in Durable Task Data Contributor role.')
param durableTaskDataContributorRoleId string

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: skuName == 'Dedicated' ? {
      name: 'Dedicated'
      capacity: dedicatedCapacity
    } : {
      name: 'Consumption'
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

// Scoped to the task hub, not the scheduler: the app can touch only its own hub.
resource appDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(taskHub.id, identityPrincipalId, durableTaskDataContributorRoleId)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributorRoleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(taskHub.id, deployerPrincipalId, durableTaskDataContributorRoleId)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributorRoleId)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
