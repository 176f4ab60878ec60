"""Microsoft.Authorization/permissions: what the caller (the app's identity) may do at a resource group or a
resource, as Azure RBAC answers it (the permissions of every role assignment at that scope and above)."""
