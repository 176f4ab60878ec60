// Role assignments on one storage account a plan touches. Deployed into the account's own resource
// group (main.bicep scopes the module there), so plans may name accounts in any group or subscription.
@description('Name of the storage account (in this module\'s resource group).')
param storageAccountName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

@description('Built-in role definition GUIDs to grant on the account.')
param roleDefinitionIds array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleDefinitionIds: {
  name: guid(account.id, principalId, roleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
