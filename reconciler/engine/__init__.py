"""Entra's licensing behaviour as pure functions over a Tenant: no I/O, no printing.

recompute(tenant)            memberships, licenses, seats and error states as Entra settles them
simulate(tenant, groups)     the tenant after some groups are created, changed or deleted
"""

from reconciler.engine.licensing import recompute, simulate
from reconciler.engine.membership import dynamic_members

__all__ = ["dynamic_members", "recompute", "simulate"]
