"""Client IP and the operator IP allowlist (api-and-security §2.5, resolution).

The forwarded headers are believed only when the direct peer is a trusted proxy; addresses are
compared in canonical form, CIDR blocks included, IPv4-mapped IPv6 folded to IPv4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from paulp.adapters.config import IpNetwork, canonical_ip

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(raw: str | None) -> IpAddress | None:
    if raw is None:
        return None
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return canonical_ip(ipaddress.ip_address(text))
    except ValueError:
        return None


def in_networks(address: IpAddress, networks: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(peer: str | None, headers: Mapping[str, str], trusted: Sequence[IpNetwork]) -> IpAddress | None:
    """The peer address, or (peer trusted) ``cf-connecting-ip`` then the first ``X-Forwarded-For`` hop.

    ``None`` = unavailable: an untrusted peer that is not an address, or a trusted proxy that sent neither
    header (or an unparseable one).
    """
    peer_ip = parse_ip(peer)
    if peer_ip is None or not in_networks(peer_ip, trusted):
        return peer_ip
    forwarded = headers.get("cf-connecting-ip")
    if forwarded is None:
        xff = headers.get("x-forwarded-for")
        forwarded = xff.split(",")[0] if xff else None
    return parse_ip(forwarded)


def ip_allowed(address: IpAddress | None, allowed: Sequence[IpNetwork]) -> str | None:
    """``None`` when allowed, else the failure code (``ip_unavailable`` / ``ip_not_allowed``)."""
    if not allowed:
        return None
    if address is None:
        return "ip_unavailable"
    return None if in_networks(address, allowed) else "ip_not_allowed"
