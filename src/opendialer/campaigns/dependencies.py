"""The key that makes and checks campaign codes, from the app's settings."""

from typing import Annotated

from fastapi import Depends, Request

from opendialer.campaigns.codes import CodeKey
from opendialer.web.state import app_state, on_loop


def code_key(request: Request) -> CodeKey:
    return CodeKey(app_state(request).settings.secret_key.get_secret_value())


CampaignCodeKey = Annotated[CodeKey, Depends(on_loop(code_key))]
