"""The one table of roles and what each may do; the server enforces it, the till reads it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    PURCHASE_ADMIN = "purchase_admin"
    SALES_ADMIN = "sales_admin"
    CASHIER = "cashier"
    VIEWER = "viewer"


class Permission(StrEnum):
    """An action; named domain.verb so a route's permission reads like what it does."""

    USERS_READ = "users.read"
    USERS_WRITE = "users.write"
    BRANCHES_READ = "branches.read"
    BRANCHES_WRITE = "branches.write"
    SETTINGS_ADMIN = "settings.admin"
    DEVICES_ADMIN = "devices.admin"
    API_KEYS_ADMIN = "api_keys.admin"

    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    PRICES_WRITE = "prices.write"

    SUPPLIERS_READ = "suppliers.read"
    SUPPLIERS_WRITE = "suppliers.write"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"

    STOCK_READ = "stock.read"
    STOCK_ADJUST = "stock.adjust"
    STOCK_RECEIVE = "stock.receive"
    STOCK_TRANSFER = "stock.transfer"
    STOCK_COUNT = "stock.count"

    PURCHASING_READ = "purchasing.read"
    PURCHASING_WRITE = "purchasing.write"
    PURCHASING_APPROVE = "purchasing.approve"
    VENDOR_PAY = "vendors.pay"

    # Till sales and returns as the back office sees them (the till shows its own).
    SALES_READ = "sales.read"
    SALES_REQUESTS_READ = "sales_requests.read"
    SALES_REQUESTS_WRITE = "sales_requests.write"
    SALES_REQUESTS_APPROVE = "sales_requests.approve"

    CREDIT_READ = "credit.read"
    CREDIT_WRITE = "credit.write"

    ORDERS_READ = "orders.read"
    ORDERS_WRITE = "orders.write"

    POS_SELL = "pos.sell"
    POS_REFUND = "pos.refund"
    POS_OVERRIDE = "pos.override"
    POS_SHIFT = "pos.shift"

    REPORTS_READ = "reports.read"
    AUDIT_READ = "audit.read"
    ALERTS_READ = "alerts.read"
    ALERTS_WRITE = "alerts.write"
    NOTIFICATIONS_READ = "notifications.read"
    NOTIFICATIONS_ADMIN = "notifications.admin"
    SYNC_ADMIN = "sync.admin"


P = Permission

_READS = frozenset(
    {
        P.BRANCHES_READ,
        P.CATALOG_READ,
        P.SUPPLIERS_READ,
        P.CUSTOMERS_READ,
        P.STOCK_READ,
        P.PURCHASING_READ,
        P.SALES_READ,
        P.SALES_REQUESTS_READ,
        P.CREDIT_READ,
        P.ORDERS_READ,
        P.REPORTS_READ,
        P.ALERTS_READ,
        P.NOTIFICATIONS_READ,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MANAGER: _READS
    | {
        P.USERS_READ,
        P.CATALOG_WRITE,
        P.PRICES_WRITE,
        P.SUPPLIERS_WRITE,
        P.CUSTOMERS_WRITE,
        P.STOCK_ADJUST,
        P.STOCK_RECEIVE,
        P.STOCK_TRANSFER,
        P.STOCK_COUNT,
        P.PURCHASING_WRITE,
        P.PURCHASING_APPROVE,
        P.VENDOR_PAY,
        P.SALES_REQUESTS_WRITE,
        P.SALES_REQUESTS_APPROVE,
        P.CREDIT_WRITE,
        P.ORDERS_WRITE,
        P.POS_SELL,
        P.POS_REFUND,
        P.POS_OVERRIDE,
        P.POS_SHIFT,
        P.AUDIT_READ,
        P.ALERTS_WRITE,
        P.SYNC_ADMIN,
    },
    Role.PURCHASE_ADMIN: frozenset(
        {
            P.BRANCHES_READ,
            P.CATALOG_READ,
            P.SUPPLIERS_READ,
            P.SUPPLIERS_WRITE,
            P.STOCK_READ,
            P.STOCK_RECEIVE,
            P.PURCHASING_READ,
            P.PURCHASING_WRITE,
            P.PURCHASING_APPROVE,
            P.VENDOR_PAY,
            P.REPORTS_READ,
            P.ALERTS_READ,
            P.NOTIFICATIONS_READ,
        }
    ),
    Role.SALES_ADMIN: frozenset(
        {
            P.BRANCHES_READ,
            P.CATALOG_READ,
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.STOCK_READ,
            P.SALES_READ,
            P.SALES_REQUESTS_READ,
            P.SALES_REQUESTS_WRITE,
            P.SALES_REQUESTS_APPROVE,
            P.CREDIT_READ,
            P.CREDIT_WRITE,
            P.ORDERS_READ,
            P.ORDERS_WRITE,
            P.REPORTS_READ,
            P.ALERTS_READ,
            P.NOTIFICATIONS_READ,
        }
    ),
    Role.CASHIER: frozenset(
        {
            P.BRANCHES_READ,
            P.CATALOG_READ,
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.STOCK_READ,
            P.POS_SELL,
            P.POS_REFUND,
            P.POS_SHIFT,
            P.NOTIFICATIONS_READ,
        }
    ),
    Role.VIEWER: _READS,
}


def permissions_of(role: Role | str) -> frozenset[Permission]:
    """Return what a role may do (nothing for an unknown role)."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def can(role: Role | str, permission: Permission | str) -> bool:
    """Say whether a role holds a permission."""
    try:
        return Permission(permission) in permissions_of(role)
    except ValueError:
        return False


def roles_with(permission: Permission | str) -> frozenset[Role]:
    """Return every role that holds a permission (e.g. who may approve a PO)."""
    return frozenset(role for role in Role if can(role, permission))


# What each API key scope lets an online store do, in terms of the same permissions.
API_KEY_SCOPES: dict[str, frozenset[Permission]] = {
    "orders:read": frozenset({P.ORDERS_READ}),
    # Placing an order finds or creates its customer and must read it back.
    "orders:write": frozenset({P.ORDERS_WRITE, P.ORDERS_READ}),
    "catalog:read": frozenset({P.CATALOG_READ}),
}
