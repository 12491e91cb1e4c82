"""Entra's licensing behaviour as pure functions over a Tenant: no I/O, no printing.

recompute(tenant)                memberships, licenses, seats and error states as Entra settles them
simulate(tenant, groups)         the tenant after some groups are created, changed or deleted
settle_changes(settled, groups)  the same from a settled tenant, costing what the change reaches
"""

from reconciler.engine.licensing import recompute, settle_changes, simulate
from reconciler.engine.membership import dynamic_members

__all__ = ["dynamic_members", "recompute", "settle_changes", "simulate"]
