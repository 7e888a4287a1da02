"""Sign-In with Ethereum, then a short-lived bearer token, then on every request the caller as the chain says.

1. `POST /v1/auth/nonce` issues a single-use nonce for an address and the EIP-4361 message to sign.
2. `POST /v1/auth/token` takes the signed message: the signature must recover to the message's address, the
   message must name this API's domain, chain and an unspent, unexpired nonce issued to that address, and the
   address must be an active member. The nonce is spent in the same statement that checks it, so a replayed
   sign-in fails even when two replicas receive it at once. The answer is a JWT (HS256) valid `token_ttl`.
3. Every authenticated request takes the account as the mirror has it now (`services.Callers`): the token
   proves who signed in, the mirrored registry decides what they may do, so a deactivation bites at once.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import and_, delete, insert, update
from eth_utils import is_hex_address, to_checksum_address

from indexer.schema import sign_in_nonces
from ledger_api import reads, siwe
from ledger_api.caller import Caller
from ledger_api.vocabulary import role_names
from ledger_api.errors import ApiError
from ledger_api.models import ErrorBody
from ledger_api.services import Services, services

TOKEN_AUDIENCE = "baijiu-ledger-api"
STATEMENT = "Sign in to the baijiu distribution ledger."

router = APIRouter(prefix="/v1/auth", tags=["sign-in"],
                   responses={status: {"model": ErrorBody} for status in (400, 401, 403, 422)})
bearer = HTTPBearer(auto_error=False, description="the access token from POST /v1/auth/token")


class NonceRequest(BaseModel):
    address: str = Field(description="the account that will sign in (any case)",
                         examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"])


class NonceAnswer(BaseModel):
    nonce: str
    message: str = Field(description="the EIP-4361 message to sign with personal_sign, exactly as given")
    expires_at: int = Field(description="Unix seconds after which the nonce is refused")


class TokenRequest(BaseModel):
    message: str = Field(description="the EIP-4361 message as signed")
    signature: str = Field(description="the 65-byte personal_sign signature, 0x-hex",
                           examples=["0x" + "ab" * 65])


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    account: dict


def issue_token(address: str, secret: str, ttl: int, now: int) -> str:
    return jwt.encode({"sub": address, "aud": TOKEN_AUDIENCE, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")


def token_subject(token: str, secret: str) -> str:
    """The address a valid token was issued to; `ApiError` 401 for an expired, forged or malformed one."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=TOKEN_AUDIENCE,
                            options={"require": ["sub", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "TokenExpired", {"hint": "sign in again: POST /v1/auth/nonce"}) from None
    except jwt.InvalidTokenError as exc:
        raise ApiError(401, "InvalidToken", {"reason": exc.__class__.__name__}) from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not is_hex_address(subject):
        raise ApiError(401, "InvalidToken", {"reason": "no account in the token"})
    return to_checksum_address(subject)


@router.post("/nonce", response_model=NonceAnswer, summary="Start a sign-in: a nonce and the message to sign")
def new_nonce(body: NonceRequest, svc: Services = Depends(services)) -> NonceAnswer:
    if not is_hex_address(body.address):
        raise ApiError(422, "InvalidAddress", {"address": body.address})
    address = to_checksum_address(body.address)
    settings = svc.settings
    now = int(time.time())
    nonce = siwe.new_nonce()
    issued = datetime.fromtimestamp(now, timezone.utc)
    message = siwe.SiweMessage(
        domain=settings.siwe_domain, address=address, uri=settings.public_url, chain_id=svc.chain_id, nonce=nonce,
        issued_at=issued, statement=STATEMENT, expiration_time=issued + timedelta(seconds=settings.nonce_ttl))
    with svc.engine.begin() as conn:
        conn.execute(delete(sign_in_nonces).where(sign_in_nonces.c.expires_at < now - settings.nonce_ttl))
        conn.execute(insert(sign_in_nonces).values(nonce=nonce, address=address.lower(), issued_at=now,
                                                   expires_at=now + settings.nonce_ttl))
    return NonceAnswer(nonce=nonce, message=message.to_text(), expires_at=now + settings.nonce_ttl)


@router.post("/token", response_model=TokenAnswer, summary="Finish a sign-in: the signed message for a token")
def new_token(body: TokenRequest, svc: Services = Depends(services)) -> TokenAnswer:
    settings = svc.settings
    now = int(time.time())
    try:
        message = siwe.verify(body.message, body.signature, domain=settings.siwe_domain, chain_id=svc.chain_id,
                              now=datetime.fromtimestamp(now, timezone.utc))
    except siwe.SiweError as exc:
        raise ApiError(401, "SignInRefused", {"reason": exc.reason, "problem": str(exc)}) from None
    with svc.engine.begin() as conn:
        spent = conn.execute(update(sign_in_nonces).where(and_(
            sign_in_nonces.c.nonce == message.nonce, sign_in_nonces.c.address == message.address.lower(),
            sign_in_nonces.c.used_at.is_(None), sign_in_nonces.c.expires_at >= now,
        )).values(used_at=now)).rowcount
        if spent != 1:
            raise ApiError(401, "SignInRefused", {"reason": "nonce_invalid",
                                                  "problem": "the nonce is unknown, expired or already used"})
        caller = reads.load_caller(conn, message.address)
    if caller is None:
        raise ApiError(403, "NotAMember", {"account": message.address,
                                           "problem": "no active account of the ledger has this address"})
    token = issue_token(caller.address, settings.token_secret.get_secret_value(), settings.token_ttl, now)
    return TokenAnswer(access_token=token, expires_in=settings.token_ttl, account=describe(caller))


def describe(caller: Caller) -> dict:
    return {"address": caller.address, "name": caller.name, "org": caller.org, "org_kind": caller.org_kind.name,
            "org_name": caller.org_name, "region": caller.region, "price_tier": caller.price_tier,
            "roles": role_names(caller.roles), "locations": sorted(caller.locations),
            "reach": caller.reach.value, "read_only": caller.read_only}


async def current_caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                         svc: Services = Depends(services)) -> Caller:
    """The signed-in member behind the request, as the mirror knows the account now. It runs on the event loop:
    with the member usually known already, its one indexed read costs less than handing it to a thread."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "SignInRequired", {"hint": "POST /v1/auth/nonce, sign, POST /v1/auth/token, then send "
                                                       "Authorization: Bearer <token>"})
    address = token_subject(credentials.credentials, svc.settings.token_secret.get_secret_value())
    with svc.engine.connect() as conn:
        caller = svc.callers.lookup(conn, address)
    if caller is None:
        raise ApiError(403, "AccountInactive", {"account": address,
                                                "problem": "the account is deactivated or no longer a member"})
    request.state.caller = caller.address
    return caller


def writing_caller(caller: Caller = Depends(current_caller)) -> Caller:
    """A caller that may write: any member but an auditor."""
    if caller.read_only:
        raise ApiError(403, "ReadOnly", {"account": caller.address, "problem": "auditors read; they do not write"})
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
WritingCaller = Annotated[Caller, Depends(writing_caller)]


@router.get("/me", summary="The signed-in account, as the chain's registry has it now")
def me(caller: CurrentCaller) -> dict:
    return describe(caller)
