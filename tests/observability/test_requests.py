"""The request id: kept when the caller's is sane, made otherwise, always answered."""

from fastapi.testclient import TestClient


def test_a_sane_request_id_is_kept(client: TestClient) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": "lb-1234:abc.def_9"})
    assert answer.headers["x-request-id"] == "lb-1234:abc.def_9"


def test_an_unsafe_or_missing_request_id_is_replaced(client: TestClient) -> None:
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()
    hostile = client.get("/healthz", headers={"X-Request-ID": 'a" injected="1'})
    assert hostile.headers["x-request-id"] not in ('a" injected="1', made)
    too_long = client.get("/healthz", headers={"X-Request-ID": "a" * 129})
    assert too_long.headers["x-request-id"] != "a" * 129


def test_errors_carry_the_request_id_too(client: TestClient) -> None:
    answer = client.get("/api/v1/campaigns", headers={"X-Request-ID": "err-1"})
    assert answer.status_code == 401 and answer.headers["x-request-id"] == "err-1"
