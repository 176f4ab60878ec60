"""Microsoft.Network/trafficmanagerprofiles: profiles, endpoints, monitor status, DNS answers."""
