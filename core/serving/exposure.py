"""Whether a bind address exposes the model, and what that requires (no heavy imports).

The CLI checks this before it loads torch or the model, so a refused `serve --host
0.0.0.0` answers at once.
"""

from __future__ import annotations

import ipaddress

from core.base.errors import UsageError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None, no_auth: bool) -> str | None:
    """Refuse a non-loopback bind without --token or --no-auth; the warning to print, if any."""
    if is_loopback(host):
        return None
    if not token and not no_auth:
        raise UsageError(
            f"--host {host} makes the model reachable from other machines.",
            "Give --token SECRET (clients send 'Authorization: Bearer SECRET'), or --no-auth "
            "to serve without authentication.",
        )
    how = "with a bearer token" if token else "WITHOUT authentication (--no-auth)"
    return f"serving on {host}, reachable from other machines, {how}"
