"""Microsoft.Web: App Service plans (SKU, instance count, scale operations) and the apps on them (start, stop)."""
