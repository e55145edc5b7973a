"""The Vault API: password-manager connections and the display-safe items synced from them.

Each key starts with one connected 1Password vault holding three items, so read-only
clients have something to list; connect, disconnect, sync, enable and disable work on
that per-key state. Secrets never appear: items carry labels, domains and field
metadata only, in the camelCase keys the official SDK reads.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse, Response

from .context import Call
from .state import VaultState
from .wire import ApiError, Issue, invalid_input, iso, issue, now, read_json

__all__ = [
    "connect",
    "disconnect",
    "list_connections",
    "list_items",
    "set_item_enabled",
    "sync_items",
]

MAX_CONNECTIONS = 2
DEMO_CONNECTION = "vc-1password-demo"


def _fields(*, totp: bool) -> list[dict[str, Any]]:
    fields = [
        {"fieldId": "username", "label": "username", "type": "STRING"},
        {"fieldId": "password", "label": "password", "type": "CONCEALED"},
    ]
    if totp:
        fields.append({"fieldId": "one-time-password", "label": "one-time password", "type": "OTP"})
    return fields


def _item(
    connection_id: str, prefix: str, vault: str, slug: str, label: str, domain: str, totp: bool
) -> dict[str, Any]:
    return {
        "itemId": f"{prefix}://{vault}/{slug}",
        "connectionId": connection_id,
        "label": label,
        "vaultName": vault,
        "domains": [domain],
        "fieldMetadata": _fields(totp=totp),
        "hasTotp": totp,
        "enabled": True,
    }


def _provider_items(connection_id: str, provider: str) -> list[dict[str, Any]]:
    prefix = "op" if provider == "1password" else "bw"
    return [
        _item(connection_id, prefix, "Personal", "shop-login", "Shop account", "shop.example.com", False),
        _item(connection_id, prefix, "Work", "crm-admin", "CRM admin", "crm.example.com", True),
        _item(connection_id, prefix, "Personal", "newsletter", "Newsletter", "news.example.org", False),
    ]


def _vault(call: Call) -> VaultState:
    state = call.store.vaults.get(call.key)
    if state is None:
        state = VaultState(
            connections=[
                {
                    "id": DEMO_CONNECTION,
                    "provider": "1password",
                    "connectionStatus": "connected",
                    "lastValidatedAt": iso(now()),
                }
            ],
            items=_provider_items(DEMO_CONNECTION, "1password"),
        )
        call.store.vaults[call.key] = state
    return state


async def list_connections(call: Call) -> Response:
    return JSONResponse({"connections": _vault(call).connections})


async def list_items(call: Call) -> Response:
    return JSONResponse({"items": _vault(call).items})


def _check_credentials(body: dict[str, Any]) -> str:
    provider = body.get("provider")
    issues: list[Issue] = []
    if provider == "1password":
        token = body.get("token")
        if not isinstance(token, str) or not token.startswith("ops_"):
            issues.append(
                issue("invalid_string", ["token"], "A 1Password service account token starts with ops_")
            )
    elif provider == "bitwarden":
        for name in ("clientId", "clientSecret", "masterPassword"):
            if not isinstance(body.get(name), str) or not body[name]:
                issues.append(issue("invalid_type", [name], f"Required: {name}"))
    else:
        issues.append(
            issue("invalid_value", ["provider"], 'Invalid option: expected one of "1password"|"bitwarden"')
        )
    if issues:
        raise invalid_input(issues)
    return str(provider)


async def connect(call: Call) -> Response:
    body = await read_json(call.request)
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    provider = _check_credentials(body)
    state = _vault(call)
    if any(c["provider"] == provider for c in state.connections) or len(state.connections) >= MAX_CONNECTIONS:
        raise invalid_input(
            [issue("custom", ["provider"], "Provider already connected")], "Provider already connected"
        )
    connection_id = f"vc-{uuid.uuid4()}"
    items = _provider_items(connection_id, provider)
    state.connections.append(
        {
            "id": connection_id,
            "provider": provider,
            "connectionStatus": "connected",
            "lastValidatedAt": iso(now()),
        }
    )
    state.items.extend(items)
    return JSONResponse(
        {"connectionId": connection_id, "connected": True, "provider": provider, "items": items}
    )


async def disconnect(call: Call) -> Response:
    connection_id = call.request.path_params["connection_id"]
    state = _vault(call)
    if not any(c["id"] == connection_id for c in state.connections):
        raise ApiError(404, "NOT_FOUND", "Vault connection not found")
    state.connections = [c for c in state.connections if c["id"] != connection_id]
    state.items = [i for i in state.items if i["connectionId"] != connection_id]
    return JSONResponse({"disconnected": True, "connectionId": connection_id})


async def sync_items(call: Call) -> Response:
    state = _vault(call)
    for connection in state.connections:
        connection["lastValidatedAt"] = iso(now())
    return JSONResponse(
        {"items": state.items, "sync_summary": {"added": 0, "updated": len(state.items), "removed": 0}}
    )


async def set_item_enabled(call: Call) -> Response:
    item_id = call.request.path_params["item_id"]
    enabled = call.request.url.path.endswith("/enable")
    for item in _vault(call).items:
        if item["itemId"] == item_id:
            item["enabled"] = enabled
            return JSONResponse(item)
    raise ApiError(404, "NOT_FOUND", "Vault item not found")
