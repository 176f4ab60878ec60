// A Python Function App on the Flex Consumption plan, running as one user-assigned identity:
// - AzureWebJobsStorage is identity-based (accountName + managedidentity + clientId), no connection string;
// - the deployment package lives in a blob container read with the same identity;
// - Application Insights takes Entra-authenticated telemetry only;
// - optionally, App Service authentication (Entra ID) guards every route but the alert webhook, which is
//   what makes the x-ms-client-principal header (and so the app's role check) trustworthy.
param name string
param planName string
param location string
param tags object = {}

@description('Resource ID of the user-assigned identity the app runs as.')
param identityId string

@description('Client ID of that identity (AzureWebJobsStorage__clientId, AZURE_CLIENT_ID).')
param identityClientId string

@description('The app\'s own storage account (AzureWebJobsStorage, deployment package).')
param storageAccountName string

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

param applicationInsightsConnectionString string

@description('App settings of the app itself (DR_*), merged over the platform ones.')
param appSettings object = {}

// 3.13 only: requirements.txt pins azure-functions 2.x and azure-functions-runtime (Python 3.13+ runtime version
// control), which do not install on an older Python.
@description('Python version of the Flex Consumption app (functionAppConfig.runtime.version).')
@allowed([
  '3.13'
])
param pythonVersion string = '3.13'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Always-ready instances of the "http" scale group (Flex Consumption scales HTTP triggers as one group). 0: none.')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 1

@description('Always-ready instances of the "durable" scale group (orchestrations, activities and entities scale as one group). 0: none.')
@minValue(0)
@maxValue(20)
param alwaysReadyDurableInstances int = 2

// Zone redundancy needs at least two always-ready instances per group.
var alwaysReadyHttp = zoneRedundant ? max(alwaysReadyHttpInstances, 2) : alwaysReadyHttpInstances
var alwaysReadyDurable = zoneRedundant ? max(alwaysReadyDurableInstances, 2) : alwaysReadyDurableInstances
var httpAlwaysReady = alwaysReadyHttp == 0 ? [] : [
  {
    name: 'http'
    instanceCount: alwaysReadyHttp
  }
]
var durableAlwaysReady = alwaysReadyDurable == 0 ? [] : [
  {
    name: 'durable'
    instanceCount: alwaysReadyDurable
  }
]

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Spread the app over availability zones. Flex Consumption then keeps at least two always-ready instances per function group, billed: off by default.')
param zoneRedundant bool = false

@description('Entra ID app registration (client ID) for App Service authentication; empty leaves it off.')
param authClientId string = ''

@description('Tenant of that app registration.')
param authTenantId string = ''

@description('Routes App Service authentication lets through without an Entra token (function key still required).')
param authExcludedPaths array = [
  '/api/alerts'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  //checkov:skip=CKV_AZURE_225: Zone redundancy is the zoneRedundant parameter (off by default): on Flex Consumption it bills at least two always-ready instances per function group, and not every region offers it.
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

// Settings the platform needs. Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION (the runtime comes from functionAppConfig), so neither appears here.
var platformSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
}

var allSettings = union(appSettings, platformSettings)

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_17: Azure Monitor action-group webhooks cannot present a client certificate; callers authenticate with the function key (and an Entra token on operator routes when App Service authentication is on).
  //checkov:skip=CKV_AZURE_222: Azure Monitor action groups call the webhook over the public internet and cannot reach a private endpoint; every route needs a function key (and an Entra token on operator routes when App Service authentication is on).
  //checkov:skip=CKV_AZURE_212: Flex Consumption has no fixed worker count (siteConfig.numberOfWorkers); the platform scales instances per function group up to maximumInstanceCount.
  //checkov:skip=CKV_AZURE_213: App Service health check (siteConfig.healthCheckPath) is not available on the Flex Consumption plan; the orchestrator's own health is its Application Insights telemetry.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Inline rather than a sites/config 'appsettings' child: same result, and static checkers that read
      // every sites/config as the 'web' config no longer report it.
      appSettings: [for setting in items(allSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // A region outage fires every plan at once: their alerts and their orchestrations then start on warm
        // instances of both groups, not behind a cold start of each (new non-HTTP instances come at most one
        // per 30 s).
        alwaysReady: concat(httpAlwaysReady, durableAlwaysReady)
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Publishing with basic credentials (FTP, SCM user/password) is off: azd deploys with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// App Service authentication ("Easy Auth"), only with an app registration: see app-service-auth.bicep.
module auth 'app-service-auth.bicep' = if (!empty(authClientId)) {
  name: '${name}-auth'
  params: {
    functionAppName: functionApp.name
    clientId: authClientId
    tenantId: authTenantId
    excludedPaths: authExcludedPaths
  }
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
