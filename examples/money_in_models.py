"""Use `Money` as a pydantic field: it validates from JSON and serialises the amount as a string.

Floats never get in: a JSON number for an amount is refused with an error that says to send a
string, and the error is a csdesk error with a stable code.
"""

from pydantic import BaseModel

from csdesk import Money
from csdesk.errors import CsdeskError


class PriceTag(BaseModel):
    sku: str
    price: Money


tag = PriceTag.model_validate_json(
    '{"sku": "TC-500", "price": {"amount": "349.99", "currency": "CNY"}}'
)
print(tag.price, tag.model_dump_json())

try:
    Money(349.99, "CNY")  # type: ignore[arg-type]
except CsdeskError as error:
    print(f"{error.code}: {error}")
