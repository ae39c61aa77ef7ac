"""The built-in Facebook's data: seed people and pages, limits, error shape, object views."""

from __future__ import annotations

import base64
import secrets
from typing import Any

ALL_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]
MODERATOR_TASKS = ["ANALYZE", "MESSAGING", "MODERATE"]
CODE_LIFETIME = 600  # login codes: single use, 10 minutes
SHORT_LIVED = 3600  # user tokens from a code, and page tokens taken with them
LONG_LIVED = 5_183_944  # about 60 days (reference §1.3)
DATA_ACCESS = 90 * 86400  # data access lapses 90 days after the login
KNOWN_SCOPES = {
    "public_profile", "email", "pages_show_list", "pages_messaging", "pages_manage_metadata",
    "pages_read_engagement", "pages_read_user_content", "pages_manage_engagement",
    "pages_manage_posts", "pages_read_user_engagement", "business_management",
}  # fmt: skip
WEBHOOK_FIELDS = {
    "messages", "messaging_postbacks", "message_echoes", "message_reads", "message_deliveries",
    "message_reactions", "message_edits", "messaging_optins", "messaging_referrals",
    "messaging_policy_enforcement", "messaging_handovers", "standby", "feed",
}  # fmt: skip


class GraphFailure(Exception):
    """A Graph API error, in Facebook's shape."""

    def __init__(
        self, message: str, code: int, subcode: int | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.code, self.subcode, self.status = code, subcode, status
        self.error_type = "OAuthException"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": str(self), "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(8)
        return {"error": error}


# Customers who message and comment on pages; Phoebe signed up with a phone number,
# so Facebook has no profile for her (error 2018218).
CUSTOMERS = [
    {"key": "cora", "first_name": "Cora", "last_name": "Customer", "profile": True},
    {"key": "dan", "first_name": "Dan", "last_name": "Díaz", "profile": True},
    {"key": "phoebe", "first_name": "Phoebe", "last_name": "Phone", "profile": False},
]


def psid(page_id: str, customer_number: int) -> str:
    """A customer's page-scoped id: each page sees a different id for the same person."""
    return f"7{page_id[-6:]}{customer_number:08d}"


def customer_for(page_id: str, scoped_id: str) -> dict[str, Any] | None:
    for number, customer in enumerate(CUSTOMERS, start=1):
        if psid(page_id, number) == scoped_id:
            return customer
    return None


def seed() -> dict[str, Any]:
    """The world on first start (DESIGN.md: who administers what)."""
    users = {
        "10000000000000001": "Mia Manager",
        "10000000000000002": "Otto Owner",
        "10000000000000003": "Paula Pages",
    }
    world: dict[str, Any] = {
        "clock_offset": 0,
        "users": {uid: {"id": uid, "name": name, "password_changed_at": 0, "app_removed_at": 0}
                  for uid, name in users.items()},
        "pages": {}, "tokens": {}, "codes": {}, "page_tokens": {},
    }  # fmt: skip
    mia, otto, paula = users
    add_page(world, "200000000000001", "Acme Support", {mia: ALL_TASKS}, category="Product/service")
    add_page(
        world, "200000000000002", "Acme Community", {mia: MODERATOR_TASKS}, category="Community"
    )
    add_page(world, "200000000000003", "Acme Drafts", {mia: ALL_TASKS}, published=False)
    add_page(world, "200000000000004", "Otto's Bakery", {otto: ALL_TASKS}, category="Bakery")
    for n in range(1, 31):  # more than one result page of /me/accounts
        add_page(world, f"2000000000001{n:02d}", f"Paula's Shop {n}", {paula: ALL_TASKS})
    return world


def add_page(
    world: dict[str, Any],
    page_id: str,
    name: str,
    roles: dict[str, list[str]],
    *,
    published: bool = True,
    category: str = "Local business",
) -> None:
    world["pages"][page_id] = {
        "id": page_id, "name": name, "category": category, "is_published": published,
        "roles": roles, "subscriptions": {},
    }  # fmt: skip


def page_view(page: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": page["id"], "name": page["name"], "category": page["category"],
        "category_list": [{"id": "2201", "name": page["category"]}],
        "is_published": page["is_published"],
        "picture": {"data": {"height": 50, "width": 50, "is_silhouette": False,
                             "url": f"/sandbox/facebook/picture/{page['id']}.svg"}},
    }  # fmt: skip


def cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        raise GraphFailure("(#100) Invalid cursor", 100) from None
