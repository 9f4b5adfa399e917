"""Who may do what: the caller (``Principal``), how a request proves it, and the checks."""

from remem.auth.principal import LOCAL_ADMIN, ROLES, Principal, Role

__all__ = ["LOCAL_ADMIN", "ROLES", "Principal", "Role"]
