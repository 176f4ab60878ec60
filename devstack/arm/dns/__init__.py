"""Microsoft.Network/dnsZones: Azure DNS zones and their record sets."""
