"""A referral as FHIR R4 Task and ServiceRequest, parsed by ``fhir.resources`` (its R4B models:
R4's Task and ServiceRequest unchanged), with the same tokens and isolation as the referral API."""

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from .api_steps import act, bearer, referral_to, token_for


@pytest.fixture
def tokens(app, directory):
    return {slug: token_for(app, slug) for slug in ("nomada", "hfpc", "pfm", "sip")}


def task(client, token, referral_id) -> Task:
    answer = client.get(f"/api/fhir/Task/{referral_id}", headers=bearer(token))
    assert answer.status_code == 200, answer.get_json()
    assert answer.content_type == "application/fhir+json"
    return Task.model_validate_json(answer.get_data())


def service_request(client, token, referral_id) -> ServiceRequest:
    answer = client.get(f"/api/fhir/ServiceRequest/{referral_id}", headers=bearer(token))
    assert answer.status_code == 200, answer.get_json()
    return ServiceRequest.model_validate_json(answer.get_data())


def test_the_task_follows_the_referral_through_its_states(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm")
    offered = task(client, tokens["nomada"], referral_id)
    assert (offered.status, offered.intent) == ("requested", "order")
    assert offered.owner.identifier.value == "nomada"
    assert offered.requester.identifier.value == "pfm"
    assert offered.focus.reference == f"ServiceRequest/{referral_id}"

    act(client, tokens["nomada"], referral_id, "decline", reason="no_capacity")
    rejected = task(client, tokens["nomada"], referral_id)
    assert rejected.status == "rejected" and rejected.owner is None
    assert rejected.statusReason.coding[0].code == "no_capacity"
    assert rejected.statusReason.coding[0].display == "We have no capacity now"
    # For the referrer and the next organisation, the task goes on.
    assert task(client, tokens["pfm"], referral_id).status == "requested"
    assert task(client, tokens["hfpc"], referral_id).owner.identifier.value == "hfpc"

    act(client, tokens["hfpc"], referral_id, "accept")
    assert task(client, tokens["hfpc"], referral_id).status == "accepted"
    act(client, tokens["hfpc"], referral_id, "start")
    assert task(client, tokens["pfm"], referral_id).status == "in-progress"
    act(client, tokens["hfpc"], referral_id, "close", outcome="partly_resolved")
    completed = task(client, tokens["pfm"], referral_id)
    assert completed.status == "completed"
    [output] = completed.output
    assert output.valueCodeableConcept.coding[0].code == "partly_resolved"
    assert output.type.coding[0].code == "resulting-activity"


def test_a_withdrawn_referral_is_a_cancelled_task_and_a_revoked_request(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm")
    act(client, tokens["pfm"], referral_id, "withdraw")
    assert task(client, tokens["pfm"], referral_id).status == "cancelled"
    assert service_request(client, tokens["pfm"], referral_id).status == "revoked"


def test_the_service_request_names_the_person_only_to_those_who_may_see_them(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm", name="Olena", urgent=True)
    seen = service_request(client, tokens["nomada"], referral_id)
    assert (seen.status, seen.intent, seen.priority) == ("active", "order", "urgent")
    assert seen.code.coding[0].code == "legal"
    assert seen.subject.display == "Olena"
    act(client, tokens["nomada"], referral_id, "decline", reason="out_of_scope")
    after_declining = client.get(
        f"/api/fhir/ServiceRequest/{referral_id}", headers=bearer(tokens["nomada"])
    )
    assert "Olena" not in after_declining.get_data(as_text=True)
    ServiceRequest.model_validate_json(after_declining.get_data())


def test_fhir_keeps_the_same_tokens_and_isolation(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm")
    for resource in ("Task", "ServiceRequest"):
        url = f"/api/fhir/{resource}/{referral_id}"
        assert client.get(url).status_code == 401
        assert client.get(url, headers=bearer(tokens["sip"])).status_code == 404
        assert (
            client.get(f"/api/fhir/{resource}/999999", headers=bearer(tokens["pfm"])).status_code
            == 404
        )


def test_a_self_referral_claims_no_profile_it_does_not_meet(app, client, tokens):
    """The SDOHCC referral Task requires a requester (a PractitionerRole or an Organization),
    which a person who asked through the public form does not have, and the guide binds the
    outcome and the need to US procedure codes where ours are our own: the resources claimed its
    profiles all the same."""
    referral_id = referral_to(app)  # no referrer: the person asked themselves
    asked = task(client, tokens["nomada"], referral_id)
    assert asked.requester is None
    assert asked.meta is None
    assert service_request(client, tokens["nomada"], referral_id).meta is None
    referred = task(client, tokens["nomada"], referral_to(app, referrer="pfm"))
    assert referred.requester.identifier.value == "pfm" and referred.meta is None
