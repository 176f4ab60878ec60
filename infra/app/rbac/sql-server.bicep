// Role assignments on one Azure SQL logical server a plan touches (restore source, restore target, or
// the server that holds a failover group). Deployed into the server's own resource group.
@description('Name of the SQL logical server (in this module\'s resource group).')
param serverName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

@description('Built-in role definition GUIDs to grant on the server.')
param roleDefinitionIds array

// An existing server, only referenced as the scope of role assignments: its auditing and threat detection
// belong to the template that manages it, not to this one.
resource server 'Microsoft.Sql/servers@2021-11-01' existing = {
  //checkov:skip=CKV_AZURE_23: Existing resource (not deployed here); auditing is set where the server is managed.
  //checkov:skip=CKV_AZURE_24: Existing resource (not deployed here); audit retention is set where the server is managed.
  //checkov:skip=CKV_AZURE_25: Existing resource (not deployed here); threat detection is set where the server is managed.
  name: serverName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleDefinitionIds: {
  name: guid(server.id, principalId, roleId)
  scope: server
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
