"""Microsoft.Cdn: Azure Front Door Standard/Premium profiles, endpoints, origin groups and origins."""
