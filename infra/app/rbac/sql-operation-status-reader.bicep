// Why this exists: Azure SQL answers a geo-restore (PUT database) or a failover-group failover (POST
// .../failover) with an Azure-AsyncOperation URL under the RESOURCE GROUP, not under the server:
//   /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Sql/locations/{region}/
//     databaseAzureAsyncOperation/{id}   (failoverGroupAzureAsyncOperation/{id} for failovers)
// A role assigned on the server does not cover that path, so polling the operation fails with 403
// AuthorizationFailed although the operation itself was allowed. The built-in roles that cover it
// (SQL DB/Server Contributor) would have to be granted on the whole resource group, i.e. on every server
// and database in it. This custom role grants only the read of operation status/results
// (Microsoft.Sql/locations/*/read, the same wildcard the built-in SQL roles use), assignable only in this
// resource group. Deployed once per resource group that holds a SQL server a plan names.
@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

var roleDefinitionName = guid(resourceGroup().id, 'dr-orchestrator-sql-operation-status-reader')

resource operationStatusReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleDefinitionName
  properties: {
    // Role names are unique per tenant: the suffix keeps one definition per resource group.
    roleName: 'DR orchestrator SQL operation status reader (${uniqueString(resourceGroup().id)})'
    description: 'Read the status and result of Azure SQL long-running operations (geo-restore, failover-group failover) in this resource group.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Sql/locations/*/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

// A role assignment names its definition in the subscription-level form whatever scope the definition was
// deployed at.
resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionName)
  dependsOn: [
    operationStatusReader
  ]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
