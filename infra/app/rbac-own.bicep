// Role assignments inside the app's own resource group.
//
// On the app's storage account, what the Functions host and the Durable Functions Azure Storage backend
// need with identity-based AzureWebJobsStorage:
//   Storage Blob Data Owner        host locks/leases and keys (azure-webjobs-*), Durable large messages and
//                                  lease blobs, the Flex deployment package, run reports
//   Storage Queue Data Contributor Durable control and work-item queues
//   Storage Table Data Contributor Durable History and Instances tables
// (Owner is what the Functions docs list for an identity-based AzureWebJobsStorage; Durable alone would
// do with Blob Data Contributor.)
// On Application Insights: Monitoring Metrics Publisher, for Entra-authenticated telemetry.
param storageAccountName string
param applicationInsightsName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param identityPrincipalId string

@description('Principal ID of the person running azd (AZURE_PRINCIPAL_ID); empty grants nothing.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('Built-in role GUIDs (app/built-in-roles.json).')
param roles object

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var storageRolesForApp = [
  roles['Storage Blob Data Owner']
  roles['Storage Queue Data Contributor']
  roles['Storage Table Data Contributor']
]

resource appStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in storageRolesForApp: {
  name: guid(storage.id, identityPrincipalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource appTelemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles['Monitoring Metrics Publisher'])
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Monitoring Metrics Publisher'])
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The deployer may read run reports (dr-reports) with `az storage blob download --auth-mode login`.
resource deployerReportsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage.id, deployerPrincipalId, roles['Storage Blob Data Reader'])
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Blob Data Reader'])
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
