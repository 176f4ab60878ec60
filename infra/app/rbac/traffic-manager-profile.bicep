// Role assignments on one Traffic Manager profile a plan switches. Deployed into the profile's own
// resource group.
@description('Name of the Traffic Manager profile (in this module\'s resource group).')
param profileName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

@description('Built-in role definition GUIDs to grant on the profile.')
param roleDefinitionIds array

resource profile 'Microsoft.Network/trafficmanagerprofiles@2022-04-01' existing = {
  name: profileName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleDefinitionIds: {
  name: guid(profile.id, principalId, roleId)
  scope: profile
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
