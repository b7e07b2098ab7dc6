"""Which networks a SCIM target may be in: ``GRAPHSYNC_TARGET_NETWORKS_ALLOWED`` and
``GRAPHSYNC_TARGET_NETWORKS_DENIED`` (comma-separated addresses or CIDR networks, IPv4 or IPv6).

Whoever may write a job's secrets chooses where the engine sends requests (BaseAddress). On a
server inside a private network an operator can keep those requests away from it: every address
the target's host name resolves to must be in an allowed network (when any is set) and in no
denied one. Both empty (the default) allow everything, as local SCIM apps in tests need.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetNotAllowed(Exception):
    """The target's address is outside the networks graphsync may connect to."""


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 169.254.169.254"`` → networks; ValueError names a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"'{entry}' is not an IP address or CIDR network") from None
    return tuple(networks)


@dataclass(frozen=True)
class TargetPolicy:
    allowed: tuple[Network, ...] = ()
    denied: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings) -> TargetPolicy:
        return cls(parse_networks(settings.target_networks_allowed), parse_networks(settings.target_networks_denied))

    def check(self, base_address: str) -> None:
        """Raise ``TargetNotAllowed`` unless every address of the target's host may be reached."""
        if not self.allowed and not self.denied:
            return
        host = urlsplit(base_address).hostname or ""
        for address in _addresses(host):
            if any(address in network for network in self.denied) or (
                    self.allowed and not any(address in network for network in self.allowed)):
                raise TargetNotAllowed(f"The target {host} ({address}) is in a network graphsync is not allowed to "
                                       "connect to (GRAPHSYNC_TARGET_NETWORKS_ALLOWED / _DENIED).")


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        raise TargetNotAllowed(f"The target's host name '{host}' does not resolve.") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
