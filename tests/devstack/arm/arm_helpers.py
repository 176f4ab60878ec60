"""Constants and helpers for the ARM emulator tests."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError

SUB = "00000000-0000-0000-0000-000000000001"
EUS_SERVER_ID = f"/subscriptions/{SUB}/resourceGroups/shop-eus/providers/Microsoft.Sql/servers/shop-eus"
WUS_SERVER_ID = f"/subscriptions/{SUB}/resourceGroups/shop-wus/providers/Microsoft.Sql/servers/shop-wus"
SHOP_DB_ID = f"{EUS_SERVER_ID}/databases/shop"
SHOP_SECONDARY_DB_ID = f"{WUS_SERVER_ID}/databases/shop"
SHOP_GEO_BACKUP_ID = f"{EUS_SERVER_ID}/recoverableDatabases/shop"


def error_code(exc: HttpResponseError) -> str | None:
    return exc.error.code if exc.error is not None else None


def undeclared_keys(model: Any, path: str = "") -> list[str]:
    """Keys of a deserialized SDK model (recursively) that its class does not declare: anything the
    emulator invented rather than took from the API's shapes."""
    fields = getattr(model, "_attr_to_rest_field", None)
    if fields is None:
        return []
    by_rest_name = {field._rest_name: attr for attr, field in fields.items()}
    found: list[str] = []
    for rest_key in model:
        attr = by_rest_name.get(rest_key)
        if attr is None:
            found.append(f"{path}{rest_key}")
            continue
        value = getattr(model, attr)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            suffix = f"[{index}]" if isinstance(value, list) else ""
            found.extend(undeclared_keys(item, f"{path}{rest_key}{suffix}."))
    return found


def raw_and_model(operation: Any, *args: Any) -> tuple[dict[str, Any], Any]:
    """Call a get-style SDK operation; return the response JSON and the model the SDK made of it."""
    return operation(*args, cls=lambda response, model, _headers: (response.http_response.json(), model))  # type: ignore[no-any-return]
