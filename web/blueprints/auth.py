"""/auth: register, login, refresh, logout, password reset, me, sessions, stream tickets."""

from __future__ import annotations

import hashlib

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from core.auth.accounts import ClientInfo, TokenPair
from core.errors import AuthenticationFailed
from core.rbac import Permission
from web.ratelimit import client_ip, enforce, rate_group
from web.resources import get_resources
from web.schemas.auth import (
    AcceptedOut,
    ForgotPasswordIn,
    LoginIn,
    LogoutIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    SessionList,
    SessionOut,
    TicketOut,
    TokenOut,
    TokenUser,
    UserOut,
)
from web.security import current_principal, require

blueprint = Blueprint("auth", __name__, url_prefix="/auth")

FORGOT_MESSAGE = "If the address belongs to an account, a reset token is on its way."


def _client() -> ClientInfo:
    return ClientInfo(ip=client_ip(), user_agent=request.headers.get("User-Agent"))


def _tokens(pair: TokenPair) -> TokenOut:
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token,
                    expires_in=pair.access_expires_in, refresh_expires_in=pair.refresh_expires_in,
                    user=TokenUser(id=pair.user_id, email=pair.email, role=pair.role))


@blueprint.post("/register")
@rate_group("auth")
@validate_request(RegisterIn)
@validate_response(UserOut, 201)
async def register(data: RegisterIn) -> tuple[UserOut, int]:
    """Create an account with e-mail and password."""
    user = await get_resources().services.accounts.register(data.email, data.password)
    return UserOut.model_validate(user, from_attributes=True), 201


@blueprint.post("/login")
@rate_group("login")
@validate_request(LoginIn)
@validate_response(TokenOut)
async def login(data: LoginIn) -> TokenOut:
    """Exchange e-mail and password for an access and a refresh token."""
    # Only failures count against the account, so its owner's successful logins do not
    # use up the allowance a guesser is limited by.
    account_key = hashlib.sha256(data.email.encode()).hexdigest()[:32]
    await enforce("login_account", account_key, fail_closed=True, record=False)
    try:
        pair = await get_resources().services.accounts.login(data.email, data.password,
                                                             _client())
    except AuthenticationFailed:
        await enforce("login_account", account_key, fail_closed=True)
        raise
    return _tokens(pair)


@blueprint.post("/refresh")
@rate_group("auth")
@validate_request(RefreshIn)
@validate_response(TokenOut)
async def refresh(data: RefreshIn) -> TokenOut:
    """Rotate a refresh token: the old one stops working, a new pair is returned."""
    return _tokens(await get_resources().services.accounts.refresh(data.refresh_token,
                                                                   _client()))


@blueprint.post("/logout")
@require(Permission.ACCOUNT_SELF)
@validate_request(LogoutIn)
async def logout(data: LogoutIn) -> tuple[str, int]:
    """Revoke the access token and, if given, the session of the refresh token."""
    await get_resources().services.accounts.logout(current_principal(), data.refresh_token)
    return "", 204


@blueprint.post("/forgot-password")
@rate_group("auth")
@validate_request(ForgotPasswordIn)
@validate_response(AcceptedOut, 202)
async def forgot_password(data: ForgotPasswordIn) -> tuple[AcceptedOut, int]:
    """Send a reset token if the e-mail has an account; the answer is the same either way."""
    get_resources().services.resets.request(data.email, client_ip())
    return AcceptedOut(message=FORGOT_MESSAGE), 202


@blueprint.post("/reset-password")
@rate_group("auth")
@validate_request(ResetPasswordIn)
async def reset_password(data: ResetPasswordIn) -> tuple[str, int]:
    """Choose a new password with a reset token; every session ends."""
    await get_resources().services.resets.complete(data.token, data.new_password)
    return "", 204


@blueprint.get("/me")
@require(Permission.ACCOUNT_SELF)
@validate_response(UserOut)
async def me() -> UserOut:
    """The caller's own account."""
    principal = current_principal()  # authentication has just read the account
    return UserOut(id=principal.user_id, email=principal.email, role=principal.role,
                   is_active=True, created_at=principal.created_at,
                   last_login_at=principal.last_login_at)


@blueprint.post("/stream-ticket")
@require(Permission.ACCOUNT_SELF)
@validate_response(TicketOut, 201)
async def stream_ticket() -> tuple[TicketOut, int]:
    """A 60-second single-use ticket for SSE clients that cannot send headers."""
    res = get_resources()
    ticket = await res.services.authenticator.issue_ticket(current_principal())
    return TicketOut(ticket=ticket, expires_in=res.settings.stream_ticket_ttl_s), 201


@blueprint.get("/sessions")
@require(Permission.ACCOUNT_SELF)
@validate_response(SessionList)
async def sessions() -> SessionList:
    """The caller's logged-in sessions."""
    rows = await get_resources().services.accounts.sessions_of(current_principal().user_id)
    return SessionList(items=[SessionOut(id=r.family_id, created_at=r.created_at,
                                         expires_at=r.expires_at, ip=r.ip,
                                         user_agent=r.user_agent) for r in rows])


@blueprint.delete("/sessions/<session_id>")
@require(Permission.ACCOUNT_SELF)
async def end_session(session_id: str) -> tuple[str, int]:
    """Log one of the caller's sessions out (e.g. a lost device)."""
    await get_resources().services.accounts.end_session(current_principal().user_id, session_id)
    return "", 204
