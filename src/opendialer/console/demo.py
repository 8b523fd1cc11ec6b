"""The demo's person at the console: an agent who signs in, beside the simulated agents (who
are never driven by a person, nor a person by the simulator: see engine/simulation.py)."""

from sqlalchemy.orm import Session

from opendialer.campaigns.schemas import FormFieldWrite
from opendialer.campaigns.service import add_member, put_form_field
from opendialer.models import Campaign, ResultAction, ResultCode, User, UserRole
from opendialer.security import hash_password, new_token

DEMO_AGENT = "agent"
DEMO_SUPERVISOR = "supervisor"
DEMO_SCRIPT = (
    "Good day {name}! I am calling from opendialer about your subscription.\n"
    "Ask whether they would like the new plan; note the product on the order form."
)
DEMO_RESULTS = (
    ("sale", "Sale", ResultAction.DONE),
    ("no_interest", "No interest", ResultAction.DONE),
    ("call_again", "Call again later", ResultAction.RETRY),
)


def add_console_agent(session: Session, campaign: Campaign) -> tuple[str, str]:
    """A signed-in agent for the demo campaign, with a script, a form and result codes to
    work with; their user name and password."""
    password = new_token(nbytes=9)
    user = User(
        tenant_id=campaign.tenant_id,
        username=DEMO_AGENT,
        password_hash=hash_password(password),
        role=UserRole.AGENT,
        display_name="Demo Agent",
    )
    session.add(user)
    session.flush()
    add_member(session, campaign, user.id)
    campaign.script = DEMO_SCRIPT
    put_form_field(session, campaign, FormFieldWrite(name="product", label="Product"))
    for code, text, action in DEMO_RESULTS:
        session.add(
            ResultCode(
                tenant_id=campaign.tenant_id,
                campaign_id=campaign.id,
                code=code,
                text_en=text,
                text_de=text,
                action=action,
            )
        )
    session.flush()
    return user.username, password


def add_supervisor(session: Session, campaign: Campaign) -> tuple[str, str]:
    """A supervisor of the demo tenant, to watch the campaign on the wallboard; their user
    name and password."""
    password = new_token(nbytes=9)
    session.add(
        User(
            tenant_id=campaign.tenant_id,
            username=DEMO_SUPERVISOR,
            password_hash=hash_password(password),
            role=UserRole.SUPERVISOR,
            display_name="Demo Supervisor",
        )
    )
    session.flush()
    return DEMO_SUPERVISOR, password
