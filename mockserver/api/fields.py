"""Request checks both API versions make the same way: the cloud's validator errors (details
keyed by the Go field name), e-mail and country codes, and the customer list's ``filters``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ..domain import customers, errors, money
from ..domain.clock import UTC, format_timestamp, parse_timestamp
from ..domain.models import Customer
from ..domain.world import World

ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
)
TEXT_FIELDS = ("external_id", "name", "email") + ADDRESS_FIELDS
# ISO 3166-1 alpha-2, the codes the cloud's validator accepts for address_country.
COUNTRIES = frozenset(
    """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GO_NAMES = {
    "external_id": "ExternalID",
    "email": "Email",
    "address_country": "AddressCountry",
    "name": "Name",
    "contact": "Contact",
    "timezone": "Timezone",
    "plan_id": "PlanID",
    "currency": "Currency",
}


def within(name: str, number: Decimal, limit: Decimal = money.MAX_AMOUNT) -> Decimal:
    """A decimal input no larger than what the ledger's columns hold (400 otherwise)."""
    if number.copy_abs() > limit:  # copy_abs: no context, so 1E+1000000 cannot overflow
        raise errors.validation(
            f"{name} must be at most {limit} in absolute value",
            f"{name} out of range",
            **{name: shown(number)},
        )
    return number


def conversion_rate(rate: Decimal) -> Decimal:
    """A wallet's rate: not below zero (400), with 0 meaning 1, kept to the column's 5 places."""
    if rate < 0:
        raise errors.validation(
            "Conversion rate must be a positive value",
            "conversion_rate must be greater than 0",
            conversion_rate=shown(rate),
        )
    return money.rate(rate) or money.ONE


def shown(number: Decimal) -> str:
    """A decimal for an error's details: plain, or in exponent form when plain would be long."""
    plain = format(money.normalize(number), "f") if abs(number.adjusted()) < 40 else ""
    return plain or str(number)


INT64 = (-(2**63), 2**63 - 1)


def int64(value: Any, name: str) -> Any:
    """An integer field that upstream decodes into a Go int: beyond int64 the body does not decode."""
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise errors.validation(
            "Invalid request format", f"{name} out of range", field=name, problem="must be within int64"
        )
    return value


def yyyymmdd(value: int, name: str) -> datetime:
    """Midnight UTC of a YYYYMMDD day; out-of-range months and days roll over as Go's time.Date does."""
    year, month, day = value // 10000, value // 100 % 100, value % 100
    years, month_index = divmod(year * 12 + month - 1, 12)
    try:
        return datetime(years, month_index + 1, 1, tzinfo=UTC) + timedelta(days=day - 1)
    except (ValueError, OverflowError):
        raise errors.validation(
            f"{name} must be a date as YYYYMMDD", "invalid expiry date", **{name: value}
        ) from None


def field_error(struct: str, failures: list[tuple[str, str]]) -> errors.ApiError:
    """The cloud's validator failure: ``details`` maps each Go field name to the validator's text."""
    details = {}
    for field, tag in failures:
        go_name = GO_NAMES[field]
        details[go_name] = (
            f"Key: '{struct}.{go_name}' Error:Field validation for '{go_name}' failed on the '{tag}' tag"
        )
    first = next(iter(details.values()))
    return errors.ApiError(400, "Request validation failed", first, details)


def currency_failures(body: dict[str, Any], required: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Validator failures of ``required`` fields and of a ``currency`` that is required with a
    length of 3 (``validate:"required,len=3"``; Go counts runes, as len() counts code points)."""
    failures = [(name, "required") for name in required if not body.get(name)]
    currency = body.get("currency")
    if not currency:
        failures.append(("currency", "required"))
    elif len(currency) != 3:
        failures.append(("currency", "len"))
    return failures


def contact_failures(body: dict[str, Any]) -> list[tuple[str, str]]:
    """Validator failures of the e-mail and country fields, as (field, tag)."""
    failures = []
    if body.get("email") and not EMAIL.match(body["email"]):
        failures.append(("email", "email"))
    country = body.get("address_country")
    if country:
        if len(country) != 2:
            failures.append(("address_country", "len"))
        elif country not in COUNTRIES:
            failures.append(("address_country", "iso3166_1_alpha2"))
    return failures


# RFC 3339 as Go's time.Time reads it from JSON: a full date and time, an upper-case T, seconds,
# any fraction, and Z or an offset of hours and minutes.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,32}))?"
    r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)


def rfc3339(text: Any) -> datetime:
    """A timestamp as upstream's JSON decoding reads one (strict RFC 3339), in UTC. Raises
    ValueError when unreadable or outside the years 1 to 9999 in UTC, the dates the sandbox holds."""
    found = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = found.groups()
    if int(off_h or 0) > 23 or int(off_m or 0) > 59:
        raise ValueError("offset out of range")
    offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
    micros = int((fraction or "").ljust(6, "0")[:6])
    zone = timezone(-offset if sign == "-" else offset)
    local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, zone)
    return in_range(local)


def moment(text: Any) -> datetime:
    """A timestamp as the sandbox has always read one (RFC 3339, or ISO 8601 with a T; naive is
    UTC), in UTC. Raises ValueError when unreadable or outside the years 1 to 9999 in UTC."""
    try:
        return in_range(parse_timestamp(text))
    except OverflowError:  # its UTC form is beyond year 9999 or before year 1
        raise ValueError("timestamp outside the years 1 to 9999 in UTC") from None


def in_range(moment: datetime) -> datetime:
    """``moment`` in UTC; ValueError when its UTC form falls outside Python's years (1 to 9999)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp outside the years 1 to 9999 in UTC") from None


def time_value(value: Any, name: str, message: str = "Invalid filter parameters") -> datetime:
    try:
        return moment(value)
    except (ValueError, TypeError):
        raise errors.validation(
            message, f"{name} must be an RFC 3339 timestamp", **{name: str(value)}
        ) from None


def customer_condition(cond: dict[str, Any]) -> Callable[[Customer], bool]:
    """One entry of a customer search's ``filters``."""
    allowed = TEXT_FIELDS + ("id", "status", "created_at", "updated_at")
    return filter_condition(cond, getattr, allowed, "customers")


TIMES = ("created_at", "updated_at")
# Upstream's operators (types.FilterCondition), on text and numbers, and on dates.
_ON_TEXT: dict[str, Callable[[int], bool]] = {
    "eq": lambda order: order == 0,
    "gt": lambda order: order == 1,
    "lt": lambda order: order == -1,
    "gte": lambda order: order in (0, 1),
}
_ON_DATES = {"before": "lt", "after": "gt", "eq": "eq", "lt": "lt", "gt": "gt", "gte": "gte"}


def filter_condition(
    cond: dict[str, Any],
    read: Callable[[Any, str], Any],
    allowed: tuple[str, ...] | None = None,
    what: str = "objects",
) -> Callable[[Any], bool]:
    """One entry of a search's ``filters`` (upstream's ``types.FilterCondition``): a field, an
    operator and a value under the key of its kind. ``read(item, field)`` gives an item's value
    (a datetime, RFC 3339 text, text, a number or a boolean; None: the item does not have it and
    never passes); ``allowed``: the fields the search may filter on (None: any). A date
    (``created_at``, ``updated_at``, ``before``/``after``, ``data_type: date``) compares as a time,
    a number as a number, the rest as text as the API shows it."""
    name, operator = cond.get("field"), cond.get("operator") or "eq"
    if not isinstance(name, str) or not name or (allowed is not None and name not in allowed):
        raise errors.validation("Invalid filter", f"cannot filter {what} by {name!r}", field=name)
    value = next((v for v in (cond.get("value") or {}).values() if v is not None), None)
    if value is None:
        raise errors.validation("Invalid filter", f"filter on {name!r} has no value", field=name)
    refused = errors.validation(
        "Invalid filter", f"operator {operator!r} does not apply to {name!r}", field=name, operator=operator
    )
    if name in TIMES or operator in ("before", "after") or cond.get("data_type") == "date":
        if operator not in _ON_DATES:
            raise refused
        when, order = time_value(value, name), _ON_TEXT[_ON_DATES[operator]]

        def dated(item: Any) -> bool:
            found = read(item, name)
            try:
                found = moment(found) if isinstance(found, str) else found
            except (ValueError, TypeError):
                return False
            return isinstance(found, datetime) and order((found > when) - (found < when))

        return dated
    text = _filter_text(value)
    options = {_filter_text(v) for v in value} if isinstance(value, list) else {text}
    numeric = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda a: text.lower() in a.lower(),
        "not_contains": lambda a: text.lower() not in a.lower(),
        "in": lambda a: a in options,
        "not_in": lambda a: a not in options,
    }
    if operator in _ON_TEXT:
        order = _ON_TEXT[operator]

        def compare(a: str) -> bool:
            if numeric:
                try:
                    x, y = Decimal(a), Decimal(text)
                except ArithmeticError:
                    return False
                return order((x > y) - (x < y))
            return order((a > text) - (a < text))

        tests[operator] = compare
    if operator not in tests:
        raise refused
    test = tests[operator]

    def passes(item: Any) -> bool:
        found = read(item, name)
        return found is not None and test(_filter_text(found))

    return passes


def _filter_text(value: Any) -> str:
    """A value as the API shows it: booleans lower case, numbers trimmed, times in RFC 3339."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return shown(Decimal(str(value)))
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value if isinstance(value, str) else str(value)


def positive_credits_and_reason(credits: Decimal, reason: str, allowed: tuple[str, ...]) -> None:
    """A top-up's first two checks: credits above zero (at the ledger's precision), a reason
    the version accepts."""
    if money.amount(credits) <= 0:
        raise errors.validation(
            "Credits to add must be a positive value",
            "credits_to_add must be greater than 0",
            credits_to_add=shown(credits),
        )
    if reason not in allowed:
        raise errors.validation(
            "Invalid transaction reason",
            "transaction_reason must be one of the allowed values",
            transaction_reason=reason,
            allowed_reasons=list(allowed),
        )


def customer_by_id_or_lookup_key(world: World, query: dict[str, Any]) -> Customer:
    """The customer of ``GET /customers/wallets``: named by ``id`` or ``lookup_key``, not both."""
    customer_id, lookup_key = query.get("id"), query.get("lookup_key")
    if not customer_id and not lookup_key:
        raise errors.validation("Please provide either id or lookup_key", "id or lookup_key is required")
    if customer_id and lookup_key:
        raise errors.validation(
            "Please provide either 'id' or 'lookup_key', but not both.",
            "only one of id or lookup_key may be given",
        )
    if customer_id:
        return customers.get(world, customer_id)
    return customers.by_lookup_key(world, str(lookup_key))
