"""The sandbox HyP3 refuses what the real API refuses, in its error shape, and takes ASF's golden payloads."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.clock import SandboxClock

GOLDEN = ("insar_gamma_golden.json.j2", "insar_isce_burst_golden.json.j2")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> CatalogService:
    return CatalogService(SandboxClock(), tmp_path_factory.mktemp("catalog"), "http://unused")


@pytest.fixture(scope="module")
def scenes(catalog: CatalogService) -> dict[str, list[str]]:
    """Scene names of a few sandbox stacks, in time order."""
    stacks: dict[str, list[str]] = {}
    for record in sorted(catalog.records, key=lambda r: r.start):
        stacks.setdefault(record.stack_key, []).append(record.name)
    return stacks


class Client:
    """Plain HTTP to the sandbox HyP3 as one user (a fresh token)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer test-{uuid.uuid4()}"}

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", json=body, headers=self.headers,
                                timeout=30, **kw)

    def credits(self) -> float:
        return float(self.call("GET", "/user").json()["remaining_credits"])


@pytest.fixture
def client(sandbox) -> Client:
    return Client(sandbox.url)


def golden(fixtures_dir: Path, name: str) -> list[dict[str, Any]]:
    text = (fixtures_dir / "hyp3-testing" / name).read_text().replace("{{ name }}", "golden")
    return list(json.loads(text))


def gamma(a: str, b: str, **params: Any) -> dict[str, Any]:
    return {"job_type": "INSAR_GAMMA", "job_parameters": {"granules": [a, b], **params}}


def assert_refused(response: requests.Response, status: int, *fragments: str) -> str:
    """HyP3's problem format: status, title, type and the `detail` hyp3_sdk shows."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return str(body["detail"])


@pytest.mark.parametrize("payload", GOLDEN)
def test_golden_payloads_validate(client: Client, fixtures_dir: Path, payload: str) -> None:
    jobs = golden(fixtures_dir, payload)
    response = client.call("POST", "/jobs", {"jobs": jobs, "validate_only": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["validate_only"] is True and len(body["jobs"]) == len(jobs)
    for sent, got in zip(jobs, body["jobs"], strict=True):
        assert got["status_code"] == "PENDING" and got["name"] == "golden"
        assert got["job_parameters"]["granules"] == sent["job_parameters"]["granules"]
        for key, value in sent["job_parameters"].items():
            assert got["job_parameters"][key] == value
        looks = sent["job_parameters"].get("looks")
        expected = 1 if sent["job_type"] == "INSAR_ISCE_BURST" else {"20x4": 10, "10x2": 15}[looks]
        assert got["credit_cost"] == expected
    assert client.credits() == 8000  # validate_only charges nothing and stores nothing
    assert client.call("GET", "/jobs").json()["jobs"] == []


def test_golden_jobs_run_where_the_sandbox_has_the_scenes(client: Client, fixtures_dir: Path) -> None:
    jobs = golden(fixtures_dir, "insar_isce_burst_golden.json.j2")
    assert client.call("POST", "/jobs", {"jobs": jobs}).status_code == 200
    assert client.credits() == 8000 - len(jobs)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = client.call("GET", "/jobs").json()["jobs"]
        if all(j["status_code"] in ("SUCCEEDED", "FAILED") for j in listed):
            break
        time.sleep(0.3)
    by_burst = {j["job_parameters"]["granules"][0].split("_")[1]: j for j in listed}
    assert by_burst["372326"]["status_code"] == "SUCCEEDED"  # the catalog's recorded burst stack
    assert by_burst["372326"]["files"][0]["filename"].startswith("S1_372326_IW3_")
    stranger = by_burst["136231"]  # real, but not in the sandbox catalog
    assert stranger["status_code"] == "FAILED"
    log = requests.get(stranger["logs"][0], timeout=10).text
    assert "no metadata" in log and "S1_136231_IW2_20200604T022312_VV_7C85-BURST" in log


def test_missing_token_is_401(sandbox) -> None:
    for method, path in [("GET", "/user"), ("GET", "/jobs"), ("POST", "/jobs"), ("GET", f"/jobs/{uuid.uuid4()}")]:
        response = requests.request(method, f"{sandbox.url}{path}", timeout=10)
        assert_refused(response, 401, "No authorization token provided")
    response = requests.get(f"{sandbox.url}/user", headers={"Authorization": "Basic dXNlcjpwdw=="}, timeout=10)
    assert_refused(response, 401, "No authorization token provided")
    assert requests.get(f"{sandbox.url}/costs", timeout=10).status_code == 200  # costs are public


def test_tokens_are_users_and_demo_token_is_the_demo_user(sandbox) -> None:
    def user(token: str) -> dict[str, Any]:
        return dict(requests.get(f"{sandbox.url}/user", headers={"Authorization": f"Bearer {token}"},
                                 timeout=10).json())

    a, b = user("token-a-" + uuid.uuid4().hex), user("token-b-" + uuid.uuid4().hex)
    assert a["user_id"] != b["user_id"] and a["application_status"] == "APPROVED"
    assert set(a) >= {"user_id", "remaining_credits", "job_names", "application_status"}
    assert user("sandbox-earthdata-token")["user_id"] == "insarhub_sandbox"
    assert "token-a" not in json.dumps(a)


MALFORMED: dict[str, tuple[Any, str]] = {
    "bad granule name": (lambda s: gamma("S1A_IW_GRDH_1SDV_20200102T133500_20200102T133528_030622_034554_FD21",
                                         s["p100_f466"][1]), "does not match '^S1[ABCD]_IW_SLC__1S[SD][VH]'"),
    "granule too short": (lambda s: gamma(s["p100_f466"][0][:-1], s["p100_f466"][1]), "is too short"),
    "bad looks enum": (lambda s: gamma(*s["p100_f466"][:2], looks="5x1"),
                       "looks: '5x1' is not one of ['20x4', '10x2']"),
    "bad parameter type": (lambda s: gamma(*s["p100_f466"][:2], include_dem="yes"),
                           "include_dem: 'yes' is not of type 'boolean'"),
    "unknown parameter": (lambda s: gamma(*s["p100_f466"][:2], resolution=30),
                          "'resolution' was unexpected"),
    "phase filter out of range": (lambda s: gamma(*s["p100_f466"][:2], phase_filter_parameter=1.5),
                                  "1.5 is greater than the maximum of 1.0"),
    "one granule": (lambda s: {"job_type": "INSAR_GAMMA", "job_parameters": {"granules": [s["p100_f466"][0]]}},
                    "is too short"),
    "different stacks": (lambda s: gamma(s["p100_f466"][0], s["p20_f118"][0]),
                         "not from the same stack"),
    "same granule twice": (lambda s: gamma(s["p100_f466"][0], s["p100_f466"][0]), "must differ"),
    "burst ids differ": (lambda s: {"job_type": "INSAR_ISCE_BURST", "job_parameters": {"granules": [
        s["174_372326_IW3"][0], "S1_136231_IW2_20200616T022313_VV_5D11-BURST"]}}, "Burst IDs do not match"),
    "unknown scene": (lambda s: gamma(s["p100_f466"][0][:-4] + "0000", s["p100_f466"][1]),
                      "Some requested scenes could not be found: "),
    "unknown job type": (lambda s: {"job_type": "RTC_GAMMA", "job_parameters": {"granules": [s["p100_f466"][0]]}},
                         "'RTC_GAMMA' is not one of ['INSAR_GAMMA', 'INSAR_ISCE_BURST', 'INSAR_ISCE_MULTI_BURST']"),
    "empty name": (lambda s: {**gamma(*s["p100_f466"][:2]), "name": ""}, "name: '' should be non-empty"),
    "long name": (lambda s: {**gamma(*s["p100_f466"][:2]), "name": "x" * 101}, "is too long"),
    "missing parameters": (lambda s: {"job_type": "INSAR_GAMMA"}, "'job_parameters' is a required property"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_jobs_are_refused(client: Client, scenes: dict[str, list[str]], case: str) -> None:
    make, fragment = MALFORMED[case]
    job = make(scenes)
    detail = assert_refused(client.call("POST", "/jobs", {"jobs": [job]}), 400, fragment)
    assert "test-" not in detail  # never echoes the token
    assert client.credits() == 8000


def test_batch_limits(client: Client, scenes: dict[str, list[str]]) -> None:
    names = scenes["p100_f466"]
    jobs = [gamma(names[i % 50], names[i % 50 + 1]) for i in range(201)]
    assert_refused(client.call("POST", "/jobs", {"jobs": jobs}), 400, "201 jobs given", "1 to 200")
    assert_refused(client.call("POST", "/jobs", {"jobs": []}), 400, "0 jobs given")
    assert_refused(client.call("POST", "/jobs", {"job": jobs[:1]}), 400, "'job'")
    assert_refused(client.call("POST", "/jobs", data=b"not json"), 400, "not valid JSON")
    response = client.call("POST", "/jobs", {"jobs": jobs[:200], "validate_only": True})
    assert response.status_code == 200 and len(response.json()["jobs"]) == 200
    # one bad job refuses the whole batch
    assert_refused(client.call("POST", "/jobs", {"jobs": [*jobs[:5], gamma(names[0], "S1A_bad")]}), 400,
                   "jobs[5].job_parameters.granules[1]")
    assert client.call("GET", "/jobs").json()["jobs"] == []


def test_scenes_after_the_sandbox_clock_do_not_exist_yet(client: Client, scenes: dict[str, list[str]],
                                                         sandbox) -> None:
    sandbox.admin.set_now("2020-01-20")
    late = scenes["p100_f466"]
    early = [n for n in late if "_2020010" in n or "_20200114" in n]
    assert client.call("POST", "/jobs", {"jobs": [gamma(*early[:2])], "validate_only": True}).status_code == 200
    feb = next(n for n in late if "_202002" in n)
    assert_refused(client.call("POST", "/jobs", {"jobs": [gamma(early[0], feb)]}), 400,
                   f"Some requested scenes could not be found: {feb}")


def test_unknown_job_id_and_bad_queries(client: Client) -> None:
    missing = str(uuid.uuid4())
    assert_refused(client.call("GET", f"/jobs/{missing}"), 404, f"job_id does not exist: {missing}")
    assert_refused(client.call("GET", "/jobs", params={"status_code": "DONE"}), 400, "'DONE' is not one of")
    assert_refused(client.call("GET", "/jobs", params={"job_type": "RTC_GAMMA"}), 400, "'RTC_GAMMA'")
    assert_refused(client.call("GET", "/jobs", params={"start": "yesterday"}), 400, "ISO 8601")
    assert_refused(client.call("GET", "/jobs", params={"start_token": "garbage"}), 400, "Invalid start_token value")


def test_patch_jobs_limits(client: Client) -> None:
    assert_refused(client.call("PATCH", "/jobs", {"job_ids": [], "name": "x"}), 400,
                   "Must provide at least one job ID")
    ids = [str(uuid.uuid4()) for _ in range(101)]
    assert_refused(client.call("PATCH", "/jobs", {"job_ids": ids, "name": "x"}), 400,
                   "Cannot update more than 100 jobs")
    assert_refused(client.call("PATCH", "/jobs", {"job_ids": ids[:1], "name": "x"}), 404,
                   f"Job {ids[0]} does not exist")
    assert_refused(client.call("PATCH", "/jobs", {"job_ids": ids[:1], "name": "x" * 101}), 400, "name")
