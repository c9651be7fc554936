"""Signed JWT access tokens for the client-credentials grant."""

import hashlib
import hmac
import json
import time
import uuid

from django.conf import settings
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException


def _signing_key() -> jwk.JWK:
    # A key derived from SECRET_KEY, never SECRET_KEY itself, so the two uses cannot collide.
    raw = hmac.new(settings.SECRET_KEY.encode(), b"catalogue-jwt-signing", hashlib.sha256).digest()
    return jwk.JWK(kty="oct", k=jwk.base64url_encode(raw))


_KEY_CACHE: dict[str, jwk.JWK] = {}


def signing_key() -> jwk.JWK:
    key = _KEY_CACHE.get(settings.SECRET_KEY)
    if key is None:
        key = _KEY_CACHE[settings.SECRET_KEY] = _signing_key()
    return key


def generate_access_token(request) -> str:
    """Return a signed JWT for an oauthlib token request (DOT's ACCESS_TOKEN_GENERATOR)."""
    issued_at = int(time.time())
    claims = {
        "iss": settings.JWT_ISSUER,
        "sub": request.client_id or request.client.client_id,
        "scope": " ".join(request.scopes or []),
        "iat": issued_at,
        "exp": issued_at + settings.TOKEN_TTL,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.JWT(header={"alg": "HS256", "typ": "JWT"}, claims=claims)
    token.make_signed_token(signing_key())
    return token.serialize()


def verify_access_token(raw: str) -> dict | None:
    """Return the claims of a well-signed, unexpired token from this issuer, else None."""
    try:
        token = jwt.JWT(
            jwt=raw,
            key=signing_key(),
            algs=["HS256"],
            check_claims={"iss": settings.JWT_ISSUER, "exp": None},
        )
        return json.loads(token.claims)
    except (JWException, ValueError, TypeError):
        return None
