// App Service authentication ("Easy Auth", authsettingsV2) for the function app, with Entra ID:
// - validates bearer tokens issued for the app registration (audience api://<clientId> or <clientId>);
// - injects x-ms-client-principal, whose "roles" claims carry the app roles dr.operator / dr.approver that
//   the app checks when DR_ENFORCE_ROLES=true. The platform strips a client-supplied header of that name,
//   which is what makes the role check trustworthy: never set DR_ENFORCE_ROLES=true without this module;
// - answers 401 to requests without a valid token, except on excludedPaths: Azure Monitor's webhook
//   carries no Entra token, only the function key, so /api/alerts stays open to key holders.
// No client secret: the app only validates tokens, it never signs anyone in.
param functionAppName string

@description('Client ID of the Entra ID app registration (exposes app roles dr.operator, dr.approver).')
param clientId string

@description('Tenant of the app registration.')
param tenantId string

@description('Paths let through without a token (the function key is still required by the app).')
param excludedPaths array = [
  '/api/alerts'
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// checkov reads every sites/config as the 'web' config (or the V1 'authsettings'); the skipped checks do
// not apply to authsettingsV2, which has none of those properties.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  //checkov:skip=CKV_AZURE_13: This IS App Service authentication (V2 schema, platform.enabled); the check only knows the V1 'authsettings' resource.
  //checkov:skip=CKV_AZURE_63: HTTP logging is a property of the 'web' config, not of authsettingsV2; requests are logged by Application Insights.
  //checkov:skip=CKV_AZURE_65: Detailed error pages are a property of the 'web' config, not of authsettingsV2.
  //checkov:skip=CKV_AZURE_66: Failed request tracing is a property of the 'web' config, not of authsettingsV2.
  //checkov:skip=CKV_AZURE_80: .NET Framework version is a property of the 'web' config; this is a Python app.
  //checkov:skip=CKV_AZURE_88: Azure Files mounts are the 'azurestorageaccounts' config; the app mounts none.
  //checkov:skip=CKV_AZURE_222: Public network access is a site property (justified on the site), not an authsettingsV2 one.
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: excludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${clientId}'
            clientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}
