"""Check QuickBooks Online JSON bodies against Intuit's XSD data model in shared/contracts.

QBO's JSON uses the XSD element names as keys. A body passes when every key is an element of the
entity's complexType (or of its base types), recursively, and every scalar is a valid lexical value
of the element's simple type (dates, decimals, booleans, enumerations). Types with simple content
(`ReferenceType`, `MemoRef`) appear in JSON as `{"value": ..., <attribute>: ...}`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import xmlschema

from tests.support.openapi_check import contracts_dir

ENTRY_POINT = "quickbooks/xsd/IntuitRestServiceDef.xsd"


@functools.cache
def qbo_schema() -> Any:
    """Intuit's XSDs, compiled once per test run."""
    return xmlschema.XMLSchema(str(contracts_dir() / ENTRY_POINT))


def qbo_body_errors(entity: str, body: Mapping[str, Any]) -> list[str]:
    """Every way `body` breaks the XSD type of the top-level element `entity` (e.g. "Invoice")."""
    schema = qbo_schema()
    errors: list[str] = []
    _check_complex(schema.elements[entity].type, body, entity, errors)
    return errors


def assert_matches_qbo_schema(entity: str, body: Mapping[str, Any]) -> None:
    """Raise AssertionError naming every field of `body` that the XSD does not allow."""
    errors = qbo_body_errors(entity, body)
    if errors:
        raise AssertionError(f"{entity} body breaks the QBO XSD: " + "; ".join(errors))


def _check_complex(xsd_type: Any, value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, Mapping):
        errors.append(f"{path}: expected an object for {_name(xsd_type)}")
        return
    if xsd_type.has_simple_content():
        _check_simple_content(xsd_type, value, path, errors)
        return
    children = _children(xsd_type)
    # Attributes travel as keys too (an update's "sparse": true is IntuitEntity's attribute).
    attributes = {str(name): attr for name, attr in xsd_type.attributes.items() if name}
    for key, item in value.items():
        element = children.get(key)
        if element is None and key in attributes:
            _check_simple(attributes[key].type, item, f"{path}.{key}", errors)
            continue
        if element is None:
            errors.append(f"{path}.{key}: not an element of {_name(xsd_type)}")
            continue
        _check_occurrences(element, item, f"{path}.{key}", errors)


def _check_simple_content(
    xsd_type: Any, value: Mapping[str, Any], path: str, errors: list[str]
) -> None:
    attributes = {str(name) for name in xsd_type.attributes if name}
    for key, item in value.items():
        if key == "value":
            _check_simple(xsd_type.content, item, f"{path}.value", errors)
        elif key not in attributes:
            errors.append(
                f"{path}.{key}: {_name(xsd_type)} has only value and {sorted(attributes)}"
            )


def _check_occurrences(element: Any, value: Any, path: str, errors: list[str]) -> None:
    repeatable = element.max_occurs is None or element.max_occurs > 1
    if isinstance(value, list):
        if not repeatable:
            errors.append(f"{path}: a list where the XSD allows one element")
            return
        for index, item in enumerate(value):
            _check_value(element.type, item, f"{path}[{index}]", errors)
        return
    _check_value(element.type, value, path, errors)


def _check_value(xsd_type: Any, value: Any, path: str, errors: list[str]) -> None:
    if xsd_type.is_simple():
        _check_simple(xsd_type, value, path, errors)
    else:
        _check_complex(xsd_type, value, path, errors)


def _check_simple(xsd_type: Any, value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, Mapping | list):
        errors.append(f"{path}: expected a scalar for {_name(xsd_type)}")
        return
    lexical = _lexical(value)
    if not xsd_type.is_valid(lexical):
        errors.append(f"{path}: {lexical!r} is not a valid {_name(xsd_type)}")


def _children(xsd_type: Any) -> dict[str, Any]:
    """Element name -> element, with abstract heads replaced by their substitution group."""
    groups = qbo_schema().maps.substitution_groups
    children: dict[str, Any] = {}
    for element in xsd_type.content.iter_elements():
        if getattr(element, "abstract", False):
            for member in groups.get(element.name, ()):
                children[member.local_name] = member
        else:
            children[element.local_name] = element
    return children


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal):
        return format(Decimal(str(value)), "f")
    return str(value)


def _name(xsd_type: Any) -> str:
    return str(getattr(xsd_type, "local_name", None) or xsd_type.name or "anonymous type")
