"""What the sync learns of a Medusa release before it writes: a release older than 2.8 is
refused in one sentence naming it; a login that owes a second factor (2.16 and later) is named.
The real releases, 2.8.8 to 2.21.2, are run by ``python -m bench.compat``."""

from __future__ import annotations

import pytest

from sync_pipeline.clients.medusa import MedusaAuthError, MedusaClient
from sync_pipeline.clients.medusa_release import (
    OLDEST_SUPPORTED_ROUTE,
    UnsupportedMedusa,
    learn_release,
)
from sync_pipeline_tests.fake_medusa import STORE, FakeMedusa


def test_a_release_older_than_2_8_is_refused_naming_the_release_and_the_fix(old_medusa):
    client = MedusaClient(old_medusa.url, api_key="sk_test")
    with pytest.raises(UnsupportedMedusa) as refusal:
        learn_release(client)
    assert str(refusal.value) == (
        f"Medusa at {old_medusa.url} is a release older than 2.8.0 (it has no GET "
        "/admin/tax-providers, which every release from 2.8.0 serves), and the sync supports "
        "Medusa 2.8.0 and later: upgrade the store's @medusajs/medusa, or point MEDUSA_BASE_URL "
        "at a store that runs one"
    )
    assert old_medusa.writes == []


def test_a_supported_release_is_learned_in_one_read():
    server = FakeMedusa({OLDEST_SUPPORTED_ROUTE: {"tax_providers": []}})
    try:
        client = MedusaClient(server.url, api_key="sk_test")
        assert learn_release(client).label == "2.8.0 or later"
        assert server.requests == [("GET", OLDEST_SUPPORTED_ROUTE)]
    finally:
        server.close()


def test_the_real_stack_is_a_supported_release(medusa_client):
    assert learn_release(medusa_client).at_least == "2.8.0"


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            {"mfa_required": True, "mfa_challenge": {}},
            "asks the user in MEDUSA_ADMIN_EMAIL for a "
            "second factor (MFA), which a sync cannot give",
        ),
        ({"verification_required": True}, "wants the email in MEDUSA_ADMIN_EMAIL verified"),
    ],
    ids=["second factor", "email unverified"],
)
def test_a_login_that_gives_no_admin_token_is_named(answer, said):
    # From 2.16 these answers come with a token too, one that acts for no one.
    server = FakeMedusa(
        {
            "/auth/user/emailpass": {**answer, "token": "actorless"},
            "/admin/stores": {"stores": [STORE]},
        }
    )
    try:
        client = MedusaClient(server.url, admin_email="a@b.c", admin_password="pw")
        with pytest.raises(MedusaAuthError) as refusal:
            client.list_stores()
        assert said in refusal.value.message
        assert "set MEDUSA_API_KEY to a secret API key" in refusal.value.message
        assert server.requests == [("POST", "/auth/user/emailpass")]  # nothing asked as no one
    finally:
        server.close()
