"""Bodies of the token endpoint."""

from pydantic import Field

from opendialer.models import UserRole
from opendialer.schemas import InputModel, OutputModel


class TokenRequest(InputModel):
    username: str = Field(
        min_length=1, max_length=120, description="The user name, or name@<tenant id>"
    )
    password: str = Field(min_length=1, max_length=1000)


class LoginUser(OutputModel):
    id: int
    tenant_id: int
    role: UserRole


class TokenResponse(OutputModel):
    access_token: str = Field(description="Send as 'Authorization: Bearer <token>'; shown once")
    token_type: str = "bearer"
    expires_after_idle_seconds: int
    user: LoginUser
