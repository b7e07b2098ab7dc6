"""Bearer-token authentication and Graph permission checks for every Graph route."""
from __future__ import annotations

from typing import Callable

from fastapi import Request

from graphsync.api.http import public_base
from graphsync.errors import Forbidden, Unauthorized
from graphsync.services.tokens import InvalidToken, Principal

# Which app permissions allow what (a ReadWrite permission includes its Read).
# Application.ReadWrite.OwnedBy is not accepted: graphsync does not track application owners, and
# granting it "everything" would be wider than Entra's meaning.
SYNC_READ = ("Synchronization.Read.All", "Synchronization.ReadWrite.All")
SYNC_WRITE = ("Synchronization.ReadWrite.All",)
SECRETS_WRITE = SYNC_WRITE + ("Application.ReadWrite.All", "Directory.ReadWrite.All")
APP_READ = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
APP_WRITE = ("Application.ReadWrite.All", "Directory.ReadWrite.All")
DISCOVER = SYNC_WRITE + ("Directory.ReadWrite.All",)
USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
USER_WRITE = ("User.ReadWrite.All", "Directory.ReadWrite.All")
GROUP_READ = ("Group.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All")
GROUP_WRITE = ("Group.ReadWrite.All", "Directory.ReadWrite.All")
MEMBER_WRITE = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
ASSIGNMENT_READ = APP_READ + ("AppRoleAssignment.ReadWrite.All",)
ASSIGNMENT_WRITE = ("AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All")


def _challenge(request: Request, error: str | None = None) -> dict[str, str]:
    base = public_base(request)
    value = f'Bearer realm="", authorization_uri="{base}/common/oauth2/v2.0/authorize", client_id="00000003-0000-0000-c000-000000000000"'
    if error:
        value += f', error="invalid_token", error_description="{error}"'
    return {"WWW-Authenticate": value}


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Access token is empty.", headers=_challenge(request))
    runtime = request.app.state.runtime
    try:
        return runtime.tokens.verify(token.strip(), runtime.clock.now())
    except InvalidToken as exc:
        raise Unauthorized(str(exc), headers=_challenge(request, "the access token is invalid")) from None


def allow(*permissions: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: an authenticated principal holding one of ``permissions``."""
    accepted = frozenset(permissions)

    async def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not principal.roles & accepted:
            raise Forbidden("Insufficient privileges to complete the operation. This operation needs one of: "
                            + ", ".join(permissions) + ".")
        return principal

    return dependency
AUDIT_READ = ("AuditLog.Read.All", "ProvisioningLog.Read.All")
UPLOAD = ("SynchronizationData-User.Upload",)  # bulkUpload of API-driven inbound provisioning
