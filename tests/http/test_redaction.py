"""What the log redaction masks, and what it leaves readable."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from tinyfish_mcp.http.redaction import REDACTED, install_log_redaction, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /mcp?access_token=abc.def&x=1", f"GET /mcp?access_token={REDACTED}&x=1"),
        ("/cb?code=C0DE&state=xyz", f"/cb?code={REDACTED}&state={REDACTED}"),
        ("/x?Refresh_Token=r&API_KEY=k", f"/x?Refresh_Token={REDACTED}&API_KEY={REDACTED}"),
        ("/x?key=k&x-api-key=k2", f"/x?key={REDACTED}&x-api-key={REDACTED}"),
        ("/consent?txn=T", f"/consent?txn={REDACTED}"),
        ("client_secret=s&code_verifier=v", f"client_secret={REDACTED}&code_verifier={REDACTED}"),
        (
            '{"access_token": "a", "token_type": "Bearer"}',
            f'{{"access_token": "{REDACTED}", "token_type": "Bearer"}}',
        ),
        ("Authorization: Bearer eyJ.abc-_~+/=", f"Authorization: Bearer {REDACTED}"),
        ("key sk-tinyfish-abc_DEF-123 was refused", f"key {REDACTED} was refused"),
        # Names that merely end like a secret's, and ordinary values, stay readable.
        ("/x?error_code=SITE_BLOCKED&run_id=r1&limit=5", "/x?error_code=SITE_BLOCKED&run_id=r1&limit=5"),
        ('{"code": "SITE_BLOCKED", "status": "FAILED"}', '{"code": "SITE_BLOCKED", "status": "FAILED"}'),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_uvicorn_access_lines_and_tracebacks_are_redacted_once_installed() -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    access = logging.getLogger("test.redaction.access")
    access.setLevel(logging.INFO)
    access.addHandler(handler)
    access.propagate = False
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/mcp?access_token=SEKRET", "1.1", 401)
    finally:
        access.removeHandler(handler)
    expected = f'127.0.0.1:5 - "GET /mcp?access_token={REDACTED} HTTP/1.1" 401 Unauthorized'
    assert stream.getvalue().strip() == expected

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    errors = logging.getLogger("test.redaction.errors")
    errors.addHandler(handler)
    errors.propagate = False
    try:
        try:
            raise ValueError("could not fetch https://x.example/?token=SEKRET")
        except ValueError:
            errors.exception("failed for %s", "sk-tinyfish-SEKRET")
    finally:
        errors.removeHandler(handler)
    output = stream.getvalue()
    assert "SEKRET" not in output
    assert "Traceback" in output and f"?token={REDACTED}" in output
