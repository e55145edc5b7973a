"""The consent page: the user signs in by pasting their TinyFish API key.

``/authorize`` (the SDK's handler, then ``TinyFishOAuthProvider.authorize``) parks the
request under a random transaction id and sends the browser here. GET shows which
client asks and where the answer will go; POST checks the key with one cheap upstream
call (the caller's ``verify_key``), and only then stores it encrypted and redirects
back with a one-time code. A refused key re-renders the page with the reason; no code
is issued.

CSRF: the form's token is a MAC over the transaction id and a random cookie set on
GET (``SameSite=Strict``, ``HttpOnly``), so a form posted from another site, or for
another transaction, is refused. The page may not be framed (clickjacking) or cached.
"""

from __future__ import annotations

import hmac
import html
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .crypto import csrf_token, new_secret
from .provider import ConsentExpiredError, TinyFishOAuthProvider
from .ratelimit import Budget, client_address, retry_after
from .store import PendingRecord

__all__ = ["CONSENT_COOKIE", "CONSENT_PATH", "MAX_FORM_BYTES", "ConsentPage", "KeyVerifier"]

logger = logging.getLogger(__name__)

KeyVerifier = Callable[[str], Awaitable[bool]]
"""``verify_key(api_key)``: True when the upstream accepts the key, False when it refuses it."""

CONSENT_PATH = "/consent"
CONSENT_COOKIE = "tfmcp_consent"
MAX_FORM_BYTES = 16 * 1024
"""Request body limit for the consent form (applied by the route, see ``auth.routes``)."""
_MAX_KEY_LENGTH = 512
_KEYS_URL = "https://agent.tinyfish.ai/api-keys"

_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # No form-action here: some browsers apply it to the redirect that follows the POST,
    # and that redirect goes to the client's (different) origin by design.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:30rem;margin:8vh auto;background:#fff;border-radius:12px;padding:2rem;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin-top:0}.who{font-weight:600}.host{font-family:ui-monospace,monospace}
.error{background:#fdecea;color:#8a1c12;padding:.75rem 1rem;border-radius:8px}
label{display:block;margin:1.2rem 0 .4rem;font-weight:600}
input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;
border:1px solid #c4c9d4;border-radius:8px}
.buttons{display:flex;gap:.75rem;margin-top:1.4rem}
button{padding:.6rem 1.2rem;font-size:1rem;border-radius:8px;border:1px solid #c4c9d4;
background:#fff;cursor:pointer}
button.primary{background:#1f5eff;border-color:#1f5eff;color:#fff}
small{color:#5b6373}
.sandbox{background:#eef4ff;padding:.75rem 1rem;border-radius:8px}
"""


def _page(title: str, body: str, status: int) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=_HEADERS)


def _message_page(title: str, message: str, status: int) -> HTMLResponse:
    return _page(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>", status)


_CSRF_FAILED = "This form expired or was not sent from this page. Please paste your key and try again."
_KEY_REFUSED = f"TinyFish did not accept this API key. Check it at {_KEYS_URL} and paste it again."
_EXPIRED = (
    "Sign-in link expired",
    "This sign-in request has expired or was already completed. Start connecting again from your MCP client.",
)


class ConsentPage:
    """GET renders the form, POST handles it; one Starlette endpoint for ``/consent``."""

    def __init__(
        self,
        provider: TinyFishOAuthProvider,
        verify_key: KeyVerifier,
        limiter: Budget,
        *,
        secure_cookie: bool,
        sandbox_key: str | None = None,
    ) -> None:
        self._sandbox_key = sandbox_key
        self._provider = provider
        self._verify_key = verify_key
        self._limiter = limiter
        self._secure_cookie = secure_cookie

    async def handle(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._post(request)
        txn = request.query_params.get("txn", "")
        record = await self._provider.pending(txn) if txn else None
        if record is None:
            return _message_page(*_EXPIRED, status=400)
        return await self._form(request, txn, record, error=None, status=200)

    async def _form(
        self, request: Request, txn: str, record: PendingRecord, *, error: str | None, status: int
    ) -> Response:
        client = await self._provider.get_client(record.client_id)
        name = (client.client_name if client and client.client_name else None) or record.client_id
        redirect_host = urlsplit(str(record.params.redirect_uri)).netloc
        cookie = request.cookies.get(CONSENT_COOKIE) or new_secret()
        csrf = csrf_token(self._provider.cipher.csrf_key, txn, cookie)
        error_html = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        sandbox_html = (
            '<p class="sandbox"><strong>Sandbox:</strong> this server runs against the built-in emulator '
            "of the TinyFish API (simulated runs, nothing billed). Paste the sandbox key "
            f'<code class="host">{html.escape(self._sandbox_key)}</code>.</p>'
            if self._sandbox_key
            else ""
        )
        body = f"""
<h1>Connect to TinyFish</h1>
{error_html}{sandbox_html}
<p><span class="who">{html.escape(name)}</span> wants to use TinyFish web agents on your behalf.</p>
<p>After you sign in you will be sent back to <span class="host">{html.escape(redirect_host)}</span>.
Only continue if you started this connection yourself.</p>
<form method="post" action="{CONSENT_PATH}">
<input type="hidden" name="txn" value="{html.escape(txn)}">
<input type="hidden" name="csrf" value="{html.escape(csrf)}">
<label for="api_key">Your TinyFish API key</label>
<input type="password" id="api_key" name="api_key" autocomplete="off" spellcheck="false" autofocus>
<small>Find or create one at <span class="host">{html.escape(_KEYS_URL)}</span>.
It is stored encrypted on this server and only used for your own requests.</small>
<div class="buttons">
<button type="submit" name="action" value="approve" class="primary">Allow</button>
<button type="submit" name="action" value="deny">Cancel</button>
</div>
</form>"""
        response = _page("Connect to TinyFish", body, status)
        response.set_cookie(
            CONSENT_COOKIE,
            cookie,
            max_age=max(60, int(record.expires_at - time.time())),
            path=CONSENT_PATH,
            secure=self._secure_cookie,
            httponly=True,
            samesite="strict",
        )
        return response

    async def _post(self, request: Request) -> Response:
        wait = await self._limiter.hit(client_address(request))
        if wait is not None:
            response = _message_page(
                "Too many attempts",
                "Too many sign-in attempts from your network. Wait a minute and try again.",
                429,
            )
            response.headers["Retry-After"] = retry_after(wait)
            return response
        form = await request.form(max_files=0, max_fields=8)
        txn, csrf, api_key, action = (
            str(form.get(name) or "") for name in ("txn", "csrf", "api_key", "action")
        )
        record = await self._provider.pending(txn) if txn else None
        if record is None:
            return _message_page(*_EXPIRED, status=400)

        cookie = request.cookies.get(CONSENT_COOKIE, "")
        # Any current or previous secret's token: the form may come from a replica not yet rotated.
        expected = [csrf_token(key, txn, cookie).encode() for key in self._provider.cipher.csrf_keys]
        if not cookie or not any(hmac.compare_digest(csrf.encode(), e) for e in expected):
            return await self._form(
                request,
                txn,
                record,
                error=_CSRF_FAILED,
                status=403,
            )

        try:
            if action == "deny":
                return self._redirect(await self._provider.deny(txn, record))
            api_key = api_key.strip()
            if not api_key or len(api_key) > _MAX_KEY_LENGTH:
                return await self._form(
                    request, txn, record, error="Paste your TinyFish API key to continue.", status=400
                )
            try:
                accepted = await self._verify_key(api_key)
            except Exception:
                # The reason may quote the request; log only that the check failed.
                logger.warning("Could not check an API key with TinyFish", exc_info=False)
                return await self._form(
                    request,
                    txn,
                    record,
                    error="Could not reach TinyFish to check the key. Please try again in a moment.",
                    status=503,
                )
            if not accepted:
                return await self._form(
                    request,
                    txn,
                    record,
                    error=_KEY_REFUSED,
                    status=400,
                )
            return self._redirect(await self._provider.approve(txn, record, api_key))
        except ConsentExpiredError:
            return _message_page(*_EXPIRED, status=400)

    @staticmethod
    def _redirect(url: str) -> Response:
        # 303: the browser follows a form POST with a GET to the client's redirect URI.
        return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
