"""The token service: RS256 access tokens for client-credentials clients, JWKS, verification.

Tokens look like Entra's application tokens: ``tid`` (tenant), ``roles`` (app permissions),
``appid``/``azp`` (client), ``aud`` (the Graph audience), ``iss`` (``{base}/{tid}/v2.0``).
Tokens of an external OpenID Connect issuer (e.g. a real Entra tenant) can be accepted as well.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Connection, insert, select

from graphsync.crypto import Cipher
from graphsync.store.tables import signing_keys


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    client_id: str
    roles: frozenset[str]
    external: bool = False


MAX_REMEMBERED_TOKENS = 10_000
# How far a token's "nbf" may lie ahead of this server's clock: Microsoft.IdentityModel's default
# clock skew (TokenValidationParameters.DefaultClockSkew), which Entra-protected APIs apply, so a
# token a real Entra API takes is not refused here for the issuer's clock being a little ahead.
CLOCK_SKEW_SECONDS = 300


class InvalidToken(Exception):
    pass


class KeyRing:
    """The signing key, kept in the database encrypted with the master key, so that every
    process sharing the database (servers, workers, the CLI) signs and verifies alike."""

    def __init__(self, kid: str, private_key: rsa.RSAPrivateKey):
        self.kid = kid
        self.private_key = private_key
        self.public_key = private_key.public_key()

    @classmethod
    def load_or_create(cls, conn: Connection, cipher: Cipher, now: datetime) -> KeyRing:
        row = conn.execute(select(signing_keys).order_by(signing_keys.c.created_at.desc())).first()
        if row is not None:
            try:
                pem = cipher.decrypt(row.private_key, associated=f"signing-key/{row.kid}")
            except InvalidTag:
                raise RuntimeError("The master key (GRAPHSYNC_SECRET_KEY or the key file in the data directory) is "
                                   "not the one this database was created with; secrets cannot be read.") from None
            return cls(row.kid, serialization.load_pem_private_key(pem.encode(), password=None))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = uuid.uuid4().hex
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        conn.execute(insert(signing_keys).values(kid=kid, private_key=cipher.encrypt(pem, f"signing-key/{kid}"),
                                                 created_at=now))
        return cls(kid, key)

    def jwks(self) -> dict:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}


class TokenService:
    def __init__(self, keys: KeyRing, base_url: str, audience: str, lifetime: timedelta,
                 oidc_issuer: str = "", oidc_audience: str = "", oidc_jwks_url: str = ""):
        self.keys = keys
        self.base_url = base_url.rstrip("/")
        self.audience = audience
        self.lifetime = lifetime
        self.oidc_issuer = oidc_issuer
        self.oidc_audience = oidc_audience
        self._oidc_keys = jwt.PyJWKClient(oidc_jwks_url, cache_keys=True) if oidc_jwks_url else None
        self._verified: dict[str, tuple[Principal, float]] = {}  # token → (principal, exp)

    def issuer(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0"

    def issue(self, tenant_id: str, client_id: str, roles: tuple[str, ...] | list[str], now: datetime,
              app_display_name: str = "") -> str:
        claims = {
            "aud": self.audience,
            "iss": self.issuer(tenant_id),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
            "tid": tenant_id,
            "appid": client_id,
            "azp": client_id,
            "sub": client_id,
            "oid": client_id,
            "idtyp": "app",
            "roles": sorted(roles),
            "app_displayname": app_display_name,
            "ver": "2.0",
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.keys.private_key, algorithm="RS256", headers={"kid": self.keys.kid})

    def verify(self, token: str, now: datetime) -> Principal:
        """The principal of a valid token. Clients reuse a token for its lifetime, so a verified
        token is remembered until it expires (signature checks dominate small requests)."""
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if expires > now.timestamp():
                return principal
            del self._verified[token]
        principal, expires = self._verify(token, now)
        if len(self._verified) >= MAX_REMEMBERED_TOKENS:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str, now: datetime) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The access token is malformed: {exc}") from None
        if header.get("kid") == self.keys.kid:
            return self._verify_own(token, now)
        if self._oidc_keys is not None:
            return self._verify_external(token, now)
        raise InvalidToken("The access token was not signed by a key this server trusts.")

    def _verify_own(self, token: str, now: datetime) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(token, self.keys.public_key, algorithms=["RS256"], audience=self.audience,
                                options={"require": ["exp", "tid", "iss"], "verify_exp": False, "verify_iat": False,
                                         "verify_nbf": False})
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The access token is invalid: {exc}") from None
        _check_lifetime(claims, now)
        if claims["iss"] != self.issuer(claims["tid"]):
            raise InvalidToken("The access token has an unexpected issuer.")
        return Principal(claims["tid"], claims.get("appid", ""), frozenset(claims.get("roles", ()))), claims["exp"]

    def _verify_external(self, token: str, now: datetime) -> tuple[Principal, float]:
        try:
            key = self._oidc_keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self.oidc_audience or None,
                                issuer=self.oidc_issuer or None,
                                options={"require": ["exp", "tid"], "verify_exp": False, "verify_iat": False,
                                         "verify_nbf": False})  # checked below, on the server's clock
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The access token is invalid: {exc}") from None
        _check_lifetime(claims, now)
        return Principal(claims["tid"], claims.get("appid") or claims.get("azp", ""),
                         frozenset(claims.get("roles", ())), external=True), claims["exp"]


def _check_lifetime(claims: dict, now: datetime) -> None:
    """``exp`` passed or ``nbf`` still ahead (beyond the clock skew) make a token invalid."""
    moment = now.timestamp()
    expires, not_before = claims["exp"], claims.get("nbf", 0)
    for value in (expires, not_before):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not math.isfinite(value)):
            raise InvalidToken("The access token is invalid: exp and nbf must be numbers (seconds since 1970).")
    if expires <= moment:
        raise InvalidToken("Lifetime validation failed, the token is expired.")
    if not_before > moment + CLOCK_SKEW_SECONDS:
        raise InvalidToken("Lifetime validation failed, the token is not yet valid (nbf).")
