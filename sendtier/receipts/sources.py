"""Which addresses may push receipts for each supplier: its callback_allowed_ips, if it has any.

The address is the client's as the HTTP server gives it: behind a reverse proxy, the server
takes it from X-Forwarded-For only when the proxy is one it trusts (uvicorn's
forwarded_allow_ips), so a client cannot choose it.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address

from suppliers.settings import SupplierSettings


class PushSources:
    """Checks a push's source address against its supplier's allow-list."""

    def __init__(self, suppliers: Iterable[SupplierSettings]) -> None:
        self._allowed = {
            supplier.name: tuple(supplier.callback_allowed_ips)
            for supplier in suppliers
            if supplier.callback_allowed_ips
        }

    def allows(self, supplier: str, client: str | None) -> bool:
        """True for a supplier without an allow-list, or a client address within it."""
        networks = self._allowed.get(supplier)
        if networks is None:
            return True
        address = _address(client)
        return address is not None and any(address in network for network in networks)


def _address(client: str | None) -> IPv4Address | IPv6Address | None:
    """The client's address; an IPv4 client seen over IPv6 (::ffff:a.b.c.d) as IPv4."""
    if client is None:
        return None
    try:
        address = ip_address(client)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
