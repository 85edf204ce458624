"""One-click unsubscribe links: a signed token naming the customer and the category.

``itsdangerous`` signs ``{"v": 1, "c": <customer id>, "k": <category>}`` with the
``UNSUBSCRIBE_SECRET`` and a salt of our own: anyone holding the link may opt that customer out
of that category (which is what the link is for), and nobody can forge one for another
customer. The token carries no personal data beyond the opaque customer id.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import SecretStr

from opora_notifications.domain.rules import Category

_SALT = "opora.notifications.unsubscribe.v1"


class InvalidTokenError(ValueError):
    """The token was not signed by us (or not for unsubscribing)."""


@dataclass(frozen=True)
class Unsubscribe:
    customer_id: str
    category: Category


class UnsubscribeLinks:
    def __init__(self, secret: SecretStr, base_url: str) -> None:
        self._serializer = URLSafeSerializer(secret.get_secret_value(), salt=_SALT)
        self.base_url = base_url.rstrip("/")

    def token(self, customer_id: str, category: Category) -> str:
        return str(self._serializer.dumps({"v": 1, "c": customer_id, "k": category.value}))

    def link(self, customer_id: str, category: Category) -> str | None:
        return f"{self.base_url}/v1/unsubscribe/{self.token(customer_id, category)}"

    def read(self, token: str) -> Unsubscribe:
        try:
            data = self._serializer.loads(token)
        except BadSignature as exc:
            raise InvalidTokenError("not a valid unsubscribe link") from exc
        if not isinstance(data, dict) or data.get("v") != 1:
            raise InvalidTokenError("not a valid unsubscribe link")
        try:
            return Unsubscribe(str(data["c"]), Category(data["k"]))
        except (KeyError, ValueError) as exc:
            raise InvalidTokenError("not a valid unsubscribe link") from exc
