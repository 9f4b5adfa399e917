"""The auth mode a server runs in: its settings checked before it starts, the bind check, and
the ``Authenticator`` it uses.

Settings that would leave a server less protected than its operator meant refuse to start with
a message saying what to set, rather than running: the upstream server's ``DISABLE_AUTH``
(default true) silently overrode ``AUTH_MODE``, so ``AUTH_MODE=token`` alone ran with no auth.
"""

from __future__ import annotations

import ipaddress

from remem.auth.authenticate import Authenticator, Disabled
from remem.auth.bearer import ResourcesOf, TokenAuthenticator
from remem.auth.oauth2 import JwtAuthenticator, check_algorithms
from remem.config import Settings
from remem.errors import InvalidInput


def check_auth_settings(settings: Settings) -> None:
    """Refuse (``InvalidInput``, saying what to set) settings that contradict each other or
    leave the chosen mode unable to check anything."""
    mode = settings.auth_mode
    if settings.disable_auth is True and mode != "disabled":
        raise InvalidInput(
            f"DISABLE_AUTH=true contradicts auth mode {mode!r}: unset DISABLE_AUTH "
            "(remem reads the mode from REMEM_AUTH_MODE / AUTH_MODE)"
        )
    if settings.disable_auth is False and mode == "disabled":
        raise InvalidInput(
            "DISABLE_AUTH=false but no auth mode: set REMEM_AUTH_MODE (or AUTH_MODE) to "
            "token or oauth2"
        )
    if settings.token_auth_enabled is True and mode != "token":
        raise InvalidInput(
            f"TOKEN_AUTH_ENABLED=true contradicts auth mode {mode!r}: unset one of them"
        )
    if mode == "disabled" and "*" in settings.cors_origins:
        raise InvalidInput(
            'REMEM_CORS_ORIGINS=["*"] with auth disabled would let every web page a browser '
            "opens read and write every memory: list the origins of your pages, or turn auth on"
        )
    if settings.token_hash_key is not None and len(settings.token_hash_key.get_secret_value()) < 32:
        raise InvalidInput(
            "REMEM_TOKEN_HASH_KEY: at least 32 characters (e.g. `openssl rand -hex 32`)"
        )
    if mode == "oauth2":
        missing = [
            name
            for name, value in (
                ("REMEM_OAUTH2_ISSUER_URL", settings.oauth2_issuer_url),
                ("REMEM_OAUTH2_AUDIENCE", settings.oauth2_audience),
            )
            if not value
        ]
        if missing:
            raise InvalidInput(f"auth mode oauth2 needs {' and '.join(missing)}")
        check_algorithms(settings.oauth2_algorithms)


def is_loopback(host: str) -> bool:
    """``host`` is reachable only from this machine. Names other than ``localhost`` count as
    not: what they resolve to can change."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to serve with auth disabled on an address other machines can reach, unless
    REMEM_ALLOW_REMOTE_WITHOUT_AUTH says so."""
    if settings.auth_mode != "disabled" or settings.allow_remote_without_auth:
        return
    if not is_loopback(host):
        raise InvalidInput(
            f"refusing to listen on {host} with auth disabled: anyone who can reach it "
            "would be the admin of every memory. Use --auth token (or oauth2), listen on "
            "127.0.0.1, or set REMEM_ALLOW_REMOTE_WITHOUT_AUTH=true (e.g. behind a proxy "
            "that authenticates)"
        )


def build_authenticator(settings: Settings, resources: ResourcesOf) -> Authenticator:
    """The authenticator of ``settings.auth_mode``; ``resources()`` gives the app's
    ``Resources`` once its lifespan has started."""
    check_auth_settings(settings)
    if settings.auth_mode == "token":
        key = settings.token_hash_key
        return TokenAuthenticator(resources, hash_key=key.get_secret_value() if key else None)
    if settings.auth_mode == "oauth2":
        return JwtAuthenticator(settings, resources)
    return Disabled()
