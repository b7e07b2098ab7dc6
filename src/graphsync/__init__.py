"""graphsync: the Microsoft Graph synchronization API and provisioning engine, self-hosted."""
__version__ = "0.1.0"
