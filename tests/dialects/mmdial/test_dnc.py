"""mmDial: dncadd, dncdel, dncget, dnccheck on the tenant-wide list the engine obeys."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendialer.dnc.service import is_blocked
from opendialer.models import Tenant
from opendialer.scoping import Scope


def test_dncadd_blocks_every_campaign(mm: TestClient, session: Session) -> None:
    body = mm.get("dncadd", params={"number": "030 1234567,+49 89 7654321"}).json()
    assert body["status"] == "ok" and body["message"]
    tenant_id = session.query(Tenant.id).scalar()
    assert tenant_id is not None
    assert is_blocked(session, Scope.system(tenant_id), None, "+49301234567")
    assert is_blocked(session, Scope.system(tenant_id), None, "+49897654321")


def test_dncadd_doublet_and_all_or_nothing(mm: TestClient) -> None:
    assert mm.get("dncadd", params={"number": "0301234567"}).json()["status"] == "ok"
    again = mm.get("dncadd", params={"number": "+49301234567,0891111111"}).json()
    assert again["status"] == "doublet" and "+49301234567" in again["message"]
    assert mm.get("dnccheck", params={"number": "089 1111111"}).json()["status"] == "exists"
    bad = mm.get("dncadd", params={"number": "0892222222,12"}).json()
    assert bad["status"] == "error" and "12" in bad["message"]
    assert mm.get("dnccheck", params={"number": "0892222222"}).json()["status"] == "notfound"
    assert mm.get("dncadd").json()["status"] == "error"


def test_dncdel(mm: TestClient) -> None:
    mm.get("dncadd", params={"number": "0301234567,0891111111"})
    assert mm.get("dncdel", params={"number": "0301234567"}).json()["status"] == "ok"
    assert mm.get("dnccheck", params={"number": "0301234567"}).json()["status"] == "notfound"
    missing = mm.get("dncdel", params={"number": "0891111111,0301234567"}).json()
    assert missing["status"] == "error" and "0301234567" in missing["message"]
    # all or nothing: the number that was on the list is still there
    assert mm.get("dnccheck", params={"number": "0891111111"}).json()["status"] == "exists"


def test_dncget_returns_the_list_as_csv(mm: TestClient, api: TestClient) -> None:
    mm.get("dncadd", params={"number": "0301234567,0891111111"})
    campaign = api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "preview"}).json()
    own = api.post("/api/v1/dnc", json={"numbers": ["0401111111"], "campaign_id": campaign["id"]})
    assert own.status_code == 200
    response = mm.get("dncget")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines() == ["49301234567", "49891111111"]


def test_dnccheck_exact_and_fuzzy(mm: TestClient) -> None:
    mm.get("dncadd", params={"number": "0301234567,0301239999,0897654321"})
    assert mm.get("dnccheck", params={"number": "+49 30 1234567"}).json() == {"status": "exists"}
    assert mm.get("dnccheck", params={"number": "0301234568"}).json() == {"status": "notfound"}
    fuzzy = mm.get("dnccheck", params={"number": "030123", "fuzzy": "yes"}).json()
    assert fuzzy["status"] == "exists"
    assert sorted(fuzzy["results"]) == ["49301234567", "49301239999"]
    partial = mm.get("dnccheck", params={"number": "7654", "fuzzy": "yes"}).json()
    assert partial["results"] == ["49897654321"]
    none = mm.get("dnccheck", params={"number": "5555", "fuzzy": "yes"}).json()
    assert none == {"status": "notfound", "results": []}
    assert mm.get("dnccheck", params={"number": "12", "fuzzy": "yes"}).json()["status"] == "error"
    assert mm.get("dnccheck", params={"number": "x", "fuzzy": "no"}).json()["status"] == "error"
    assert (
        mm.get("dnccheck", params={"number": "030", "fuzzy": "maybe"}).json()["status"] == "error"
    )
