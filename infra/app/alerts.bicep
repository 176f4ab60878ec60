// Alert wiring: an action group whose webhook posts the common alert schema to the app's /api/alerts, and
// example rules on the primary region wired to it. The app matches a fired alert to a plan by
// essentials.alertRule (the rule NAME below), by alertTargetIDs, and optionally by severity
// (plan trigger.alert_rules / target_resource_ids / severities).
param location string = 'global'
param tags object = {}

param actionGroupName string

@maxLength(12)
param actionGroupShortName string

@description('Name of the function app whose /api/alerts receives the webhook (same resource group).')
param functionAppName string

@description('People to e-mail as well (they get the same common-schema notification).')
param notificationEmails array = []

@description('Name of the metric alert rule; list it in a plan\'s trigger.alert_rules. Empty: no rule.')
param availabilityAlertName string

@description('Resource ID of the primary storage account the availability rule watches. Empty: no rule.')
param availabilityAlertTargetId string

@description('Fire when the primary\'s Availability (percent, 5-minute average) falls below this.')
@minValue(1)
@maxValue(100)
param availabilityThreshold int = 99

@description('Name of the Resource Health activity-log alert rule. Empty: no rule.')
param resourceHealthAlertName string

@description('Scope (resource group or resource ID) the Resource Health rule watches. Empty: no rule.')
param resourceHealthScope string

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// The function key rides in the webhook URL (action groups cannot add headers), but it does not exist yet
// when this template runs: on a first `azd up` no code is deployed, and a Flex Consumption app without code
// answers listKeys on host/default with an error. So the receiver is declared here WITHOUT the key (common
// alert schema, the receiver's name), and scripts/wire-alert-webhook.sh, run by azd after deploy
// (azure.yaml hooks: postdeploy, and postprovision once code is there), reads the key with
// `az functionapp keys list` and replaces this receiver with one whose URL carries it. Until then Azure
// Monitor's calls are refused with 401 (no key): never a run started without authentication.
// The key is never a template value or an output.
var alertsWebhookName = 'dr-orchestrator'
var alertsWebhookUri = 'https://${functionApp.properties.defaultHostName}/api/alerts'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    webhookReceivers: [
      {
        name: alertsWebhookName
        serviceUri: alertsWebhookUri
        useCommonAlertSchema: true
        useAadAuth: false
      }
    ]
    emailReceivers: [for (email, i) in notificationEmails: {
      name: 'email-${i}'
      emailAddress: email
      useCommonAlertSchema: true
    }]
  }
}

// Storage availability below the threshold for 5 minutes: the primary is failing requests. Severity 1
// arrives as essentials.severity "Sev1". A full regional outage may stop the metric altogether (a metric
// rule does not fire on missing data), hence the Resource Health rule below as well.
resource availabilityAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = if (!empty(availabilityAlertName) && !empty(availabilityAlertTargetId)) {
  name: empty(availabilityAlertName) ? 'unused' : availabilityAlertName
  location: location
  tags: tags
  properties: {
    description: 'Primary storage availability below ${availabilityThreshold}% (5-minute average): starts the matching DR plan.'
    severity: 1
    enabled: true
    scopes: [
      availabilityAlertTargetId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'availability-below-threshold'
          metricNamespace: 'Microsoft.Storage/storageAccounts'
          metricName: 'Availability'
          operator: 'LessThan'
          threshold: availabilityThreshold
          timeAggregation: 'Average'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// A platform-initiated Resource Health event (Unavailable or Degraded) on anything in the primary's
// resource group. Activity-log alerts carry essentials.severity "Sev4" and monitorCondition "Fired" only:
// a plan matched by this rule must not filter on Sev0/Sev1.
resource resourceHealthAlert 'Microsoft.Insights/activityLogAlerts@2020-10-01' = if (!empty(resourceHealthAlertName) && !empty(resourceHealthScope)) {
  name: empty(resourceHealthAlertName) ? 'unused' : resourceHealthAlertName
  location: 'Global'
  tags: tags
  properties: {
    description: 'Platform-initiated Resource Health event (Unavailable/Degraded) in the primary region: starts the matching DR plan.'
    enabled: true
    scopes: [
      resourceHealthScope
    ]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'ResourceHealth'
        }
        {
          field: 'properties.cause'
          equals: 'PlatformInitiated'
        }
        {
          anyOf: [
            {
              field: 'properties.currentHealthStatus'
              equals: 'Unavailable'
            }
            {
              field: 'properties.currentHealthStatus'
              equals: 'Degraded'
            }
          ]
        }
      ]
    }
    actions: {
      actionGroups: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output actionGroupName string = actionGroup.name
output webhookReceiverName string = alertsWebhookName
output availabilityAlertName string = (!empty(availabilityAlertName) && !empty(availabilityAlertTargetId)) ? availabilityAlertName : ''
output resourceHealthAlertName string = (!empty(resourceHealthAlertName) && !empty(resourceHealthScope)) ? resourceHealthAlertName : ''
