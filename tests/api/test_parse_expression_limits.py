"""parseExpression with an expression that runs over its limits (issue #15, item 5): the caller
gets the documented answer (200, ``evaluationSucceeded: false``, an error naming the limit), and
nobody else waits meanwhile. ``Replace([mail], , "(a+)+$", , "", , )`` used to freeze every
tenant: Python's re held the GIL for hours, inside a write transaction (on SQLite, the
process-wide write lock)."""
from __future__ import annotations

import threading
import time

import httpx

from graphsync.expressions import limits
from tests.conftest import SCIM_APP_TEMPLATE, bearer_client

VICTIM = "a" * 40 + "b"  # (a|aa)+$ tries ~10^8 ways to split its a's before failing


def _scim_job(client: httpx.Client) -> tuple[str, str]:
    created = client.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                          json={"displayName": "limits app"})
    assert created.status_code == 201, created.text
    sp = created.json()["servicePrincipal"]["id"]
    job = client.post(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"})
    assert job.status_code == 201, job.text
    return sp, job.json()["id"]


def _parse(client: httpx.Client, sp: str, job: str, expression: str, **attributes: str) -> httpx.Response:
    properties = [{"key": key, "value": value} for key, value in attributes.items()]
    return client.post(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema/parseExpression",
                       json={"expression": expression, "testInputObject": {"properties": properties}})


def test_a_catastrophic_regex_holds_up_no_other_tenant(server, http):
    sp_a, job_a = _scim_job(http)
    bystander = httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "bystander"}).json()
    with bearer_client(server, bystander["accessToken"]) as other:
        sp_b, _ = _scim_job(other)
        answers: list[httpx.Response] = []
        attack = threading.Thread(target=lambda: answers.append(
            _parse(http, sp_a, job_a, 'Replace([mail], , "(a|aa)+$", , "", , )', mail=VICTIM)))
        began = time.monotonic()
        attack.start()
        reads, writes = [], []
        while attack.is_alive():
            start = time.monotonic()
            listed = other.get(f"/v1.0/servicePrincipals/{sp_b}/synchronization/jobs")
            reads.append(time.monotonic() - start)
            assert listed.status_code == 200 and len(listed.json()["value"]) == 1
            start = time.monotonic()
            # a write: on SQLite it needs the write lock, which the evaluation must not hold
            saved = other.put(f"/v1.0/servicePrincipals/{sp_b}/synchronization/secrets", json={"value": []})
            writes.append(time.monotonic() - start)
            assert saved.status_code == 204, saved.text
        attack.join()
    in_flight = time.monotonic() - began

    assert max(reads) < 0.2, reads
    assert max(writes) < 0.2, writes
    assert in_flight >= limits.REGEX_TIMEOUT * 0.9  # the pattern really ran its budget out…
    assert len(reads) >= 3  # …while the other tenant was served
    answer = answers[0]
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["parsingSucceeded"] is True and body["evaluationSucceeded"] is False
    assert body["evaluationResult"] is None
    assert body["error"]["code"] == "EvaluationFailed"
    assert "took longer than 0.5 s (its time budget)" in body["error"]["message"]


def test_the_pattern_from_the_issue_is_answered(http):
    sp, job = _scim_job(http)
    began = time.monotonic()
    answer = _parse(http, sp, job, 'Replace([mail], , "(a+)+$", , "", , )', mail=VICTIM)
    assert time.monotonic() - began < limits.REGEX_TIMEOUT
    assert answer.status_code == 200
    assert answer.json()["evaluationSucceeded"] is True and answer.json()["evaluationResult"] == [VICTIM]


def test_values_over_the_size_cap_and_oversized_patterns_are_answers(http):
    sp, job = _scim_job(http)
    nested = 'Replace(Replace(Replace([x], "a", , , [x], , ), "a", , , [x], , ), "a", , , [x], , )'
    too_big = _parse(http, sp, job, nested, x="a" * 200).json()
    assert too_big["evaluationSucceeded"] is False
    assert "more than the 1,048,576 a value may have" in too_big["error"]["message"]
    unrolled = _parse(http, sp, job, 'Replace([x], , "(a{65535}){65535}", , "", , )', x="aaa").json()
    assert unrolled["evaluationSucceeded"] is False and "too large" in unrolled["error"]["message"]


def test_one_tenant_evaluates_a_few_expressions_at_a_time(server, http):
    """A flood of slow evaluations answers 429 beyond the tenant's slots instead of taking every
    thread of the server; a parse without a test object needs no slot."""
    from graphsync.services import parse_expression
    sp, job = _scim_job(http)
    flood = parse_expression.EVALUATIONS_PER_TENANT + 3
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(
        _parse(http, sp, job, 'Replace([mail], , "(a|aa)+$", , "", , )', mail=VICTIM))) for _ in range(flood)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(429) >= 1 and statuses.count(200) >= 1, statuses
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["Retry-After"] == "1" and refused.json()["error"]["code"] == "TooManyRequests"
    parsed = http.post(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema/parseExpression",
                       json={"expression": 'Replace([mail], , "(a|aa)+$", , "", , )'})
    assert parsed.status_code == 200 and parsed.json()["parsingSucceeded"] is True
