// Least privilege for the sql_failover_group step: a custom role with only the failover-group actions the
// step performs, assigned on the SQL server that holds the group (the server to promote), instead of SQL
// Server Contributor there (which can also change the server's administrator login and password,
// firewall, auditing...). What the step calls (dr/steps/sql.py, SqlFailoverGroup):
//   GET  .../servers/{s}/failoverGroups/{g}                              failoverGroups/read
//   POST .../failoverGroups/{g}/failover                                 failoverGroups/failover/action
//   POST .../failoverGroups/{g}/forceFailoverAllowDataLoss (allow_data_loss) .../forceFailoverAllowDataLoss/action
//   GET  .../servers/{s}/databases/{d}/replicationLinks (lag estimate)   databases/replicationLinks/read
// Polling the failover (Azure-AsyncOperation under the resource group) needs the operation-status role
// of sql-operation-status-reader.bicep, granted per resource group.
// A custom role cannot be made assignable at a single resource: it is assignable in the server's resource
// group and assigned on the server only. One definition per server (named from the server's ID), so two
// servers in one group never write the same definition at once.
@description('Name of the SQL logical server that holds the failover group (in this module\'s resource group).')
param serverName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// An existing server, only referenced as the scope of the assignment: its auditing and threat detection
// belong to the template that manages it, not to this one.
resource server 'Microsoft.Sql/servers@2021-11-01' existing = {
  //checkov:skip=CKV_AZURE_23: Existing resource (not deployed here); auditing is set where the server is managed.
  //checkov:skip=CKV_AZURE_24: Existing resource (not deployed here); audit retention is set where the server is managed.
  //checkov:skip=CKV_AZURE_25: Existing resource (not deployed here); threat detection is set where the server is managed.
  name: serverName
}

var roleDefinitionName = guid(server.id, 'dr-orchestrator-sql-failover-group-operator')

resource failoverOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleDefinitionName
  properties: {
    // Role names are unique per tenant: the suffix keeps one definition per server.
    roleName: 'DR orchestrator SQL failover-group operator (${uniqueString(server.id)})'
    description: 'Read the failover groups and replication links of one Azure SQL server and fail its groups over (planned, forced, or planned then forced). Nothing else: no server settings, logins, firewall or databases.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Sql/servers/failoverGroups/read'
          'Microsoft.Sql/servers/failoverGroups/failover/action'
          'Microsoft.Sql/servers/failoverGroups/forceFailoverAllowDataLoss/action'
          'Microsoft.Sql/servers/failoverGroups/tryPlannedBeforeForcedFailover/action'
          'Microsoft.Sql/servers/databases/replicationLinks/read'
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
  name: guid(server.id, principalId, roleDefinitionName)
  scope: server
  dependsOn: [
    failoverOperator
  ]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
