"""Which addresses a crawler may connect to (SSRF safety), and where a URL really points.

Page authors choose the image URLs we fetch, so a URL may point at the worker's own network:
``http://127.1/``, ``http://2130706433/``, ``http://0x7f.1/``, ``http://[::ffff:127.0.0.1]/``,
``http://169.254.169.254/`` (cloud metadata), or a hostname whose DNS answer is private. The
downloader resolves every hop itself, refuses the URL if ANY address of the host is not public
unicast, and connects to the address it checked (never re-resolving, so DNS rebinding has no gap).

Host spellings are read the way the C resolver reads them (``inet_aton``: decimal, octal, hex and
shortened dotted forms), so we see the address the connection would really reach. IPv6 addresses
that embed an IPv4 one are judged by it (mapped, NAT64) or by both (6to4, Teredo).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Callable, Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Only characters inet_aton can read: digits, hex digits, "x" and dots. Anything else is a name.
NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)


class AddressRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def literal_address(host: str) -> IPAddress | None:
    """The address a numeric host spelling stands for, or None when ``host`` is a name."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        pass
    if NUMERIC_HOST.match(host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def effective_addresses(ip: IPAddress) -> list[IPAddress]:
    """The addresses a connection to ``ip`` really reaches: an IPv4-mapped or NAT64 address is its
    IPv4 address; a 6to4 or Teredo address is both itself and the IPv4 address inside it."""
    if ip.version == 4:
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip, ip.sixtofour]
    if ip.teredo is not None:
        return [ip, ip.teredo[1]]  # the client address
    return [ip]


def _is_public(ip: IPAddress) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def address_allowed(ip: IPAddress, allow_networks: Iterable[ipaddress._BaseNetwork] = ()) -> bool:
    """Public unicast, or inside a network the caller explicitly allows (tests: 127.0.0.0/8)."""
    candidates = effective_addresses(ip)
    allow = list(allow_networks)
    if all(any(c.version == n.version and c in n for n in allow) for c in candidates):
        return True
    return all(_is_public(c) for c in candidates)


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses of ``host`` from the system resolver, in its order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve_checked(
    host: str, port: int, resolver: Resolver, allow_networks: Iterable[ipaddress._BaseNetwork] = ()
) -> str:
    """The address to connect to: the first of the host's addresses, all of which must be allowed.

    Raises ``AddressRefused`` with reason ``dns`` (no answer) or ``blocked_address``.
    """
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
        except (OSError, UnicodeError) as e:
            raise AddressRefused("dns", f"{host}: {e}") from None
        if not addresses:
            raise AddressRefused("dns", f"{host}: no addresses")
    allow = list(allow_networks)
    blocked = [str(a) for a in addresses if not address_allowed(a, allow)]
    if blocked:
        raise AddressRefused("blocked_address", f"{host} -> {', '.join(blocked)}")
    return str(addresses[0])
