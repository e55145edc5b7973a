"""Sealed task ids: the task's whole state, so no replica keeps a task store.

A task id is AES-256-GCM over ``{kind, upstream id, owner, tool, created}``: it cannot be
forged or read, and ``tasks/get`` on any replica (or after a restart) opens it and reads
TinyFish directly. The key comes from the deployment secret (``TINYFISH_MCP_SECRET``,
through HKDF with its own label, like the OAuth sealing in ``auth/crypto.py``); without
one (stdio), from a random key kept beside the session_id file in the user's state
directory (``Settings.state_dir()``: ``$XDG_STATE_HOME/tinyfish-mcp/task-key``, created
0600 on first use).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..settings import Settings

__all__ = ["SealedTask", "TaskSeal", "deployment_keys"]

_LABEL = b"tinyfish-mcp/task-ids/v1"
_NONCE = 12
_PREFIX = "tft1."


def _local_key(directory: Path) -> bytes:
    path = directory / "task-key"
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.urandom(32)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    try:
        os.link(tmp, path)  # the first writer wins; a racing process reads its key
    except FileExistsError:
        key = path.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _derive(secret: str | bytes, label: bytes = _LABEL) -> bytes:
    material = secret.encode() if isinstance(secret, str) else secret
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(material)


def deployment_keys(settings: Settings, label: bytes) -> list[bytes]:
    """32-byte keys for ``label``: from the deployment secret (then the previous ones, for a
    rotation), or on a server without one (stdio) from the random key in the state directory."""
    secret = settings.mcp_secret.get_secret_value() if settings.mcp_secret is not None else None
    if secret:
        previous = settings.mcp_secret_previous
        older = [p for p in (previous.get_secret_value().split(",") if previous else []) if p.strip()]
        return [_derive(secret, label), *(_derive(p.strip(), label) for p in older)]
    return [_derive(_local_key(settings.state_dir()), label)]


@dataclass(frozen=True)
class SealedTask:
    kind: str  # the TaskKind that reads it
    ident: str  # the upstream id (a batch: its run ids, comma-separated)
    owner: str  # whose it is (a digest): another owner's task is not found
    tool: str  # the tool that made it
    created: str  # ISO 8601


class TaskSeal:
    """Seals and opens task ids with the deployment's key (and the previous ones, during a rotation)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._keys: list[AESGCM] | None = (
            None  # made on first use: a server never asked for a task writes nothing
        )

    def _aeads(self) -> list[AESGCM]:
        if self._keys is None:
            settings = self._settings
            if settings.mcp_secret is not None and settings.mcp_secret.get_secret_value():
                keys = deployment_keys(settings, _LABEL)
            else:
                keys = [_local_key(settings.state_dir())]  # as sealed since #23: kept as is
            self._keys = [AESGCM(k) for k in keys]
        return self._keys

    def seal(self, task: SealedTask) -> str:
        nonce = os.urandom(_NONCE)
        body = json.dumps([task.kind, task.ident, task.owner, task.tool, task.created]).encode()
        blob = nonce + self._aeads()[0].encrypt(nonce, body, _LABEL)
        return _PREFIX + base64.urlsafe_b64encode(blob).rstrip(b"=").decode()

    def open(self, task_id: str) -> SealedTask | None:
        """The task, or None for an id this deployment did not seal (or that was altered)."""
        if not task_id.startswith(_PREFIX) or len(task_id) > 8192:
            return None
        text = task_id[len(_PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError:
            return None
        nonce, sealed = blob[:_NONCE], blob[_NONCE:]
        for aead in self._aeads():
            try:
                body = aead.decrypt(nonce, sealed, _LABEL)
            except (InvalidTag, ValueError):
                continue
            kind, ident, owner, tool, created = json.loads(body)
            return SealedTask(str(kind), str(ident), str(owner), str(tool), str(created))
        return None
