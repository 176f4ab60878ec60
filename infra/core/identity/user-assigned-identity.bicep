// The one identity the function app runs as: AzureWebJobsStorage, Application Insights, the deployment
// package, Durable Task Scheduler and every plan target authenticate with it (DefaultAzureCredential
// picks it through AZURE_CLIENT_ID). A user-assigned identity outlives the app, so the role assignments
// on plan targets survive an app re-create.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
