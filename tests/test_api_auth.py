"""POST /api/auth/register/ and /api/auth/token/."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
TOKEN = "/api/auth/token/"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def test_registering_returns_a_token_that_works(anonymous):
    response = anonymous.post(REGISTER, {"username": "lin", "password": PASSWORD})

    assert response.status_code == 201
    token = response.json()["token"]
    assert set(response.json()) == {"token"}
    assert Token.objects.get(key=token).user.username == "lin"
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anonymous.get("/api/sources/").status_code == 200


def test_the_password_is_stored_hashed(anonymous):
    anonymous.post(REGISTER, {"username": "lin", "password": PASSWORD})

    user = get_user_model().objects.get(username="lin")
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)


def test_a_duplicate_username_is_400(anonymous, user):
    response = anonymous.post(REGISTER, {"username": user.username, "password": PASSWORD})

    assert response.status_code == 400
    assert response.json() == {"username": ["A user with that username already exists."]}


@pytest.mark.parametrize(
    "password",
    ["short", "12345678901", "password123", "linlinlin1"],
    ids=["too-short", "numeric", "common", "like-the-username"],
)
def test_a_weak_password_is_400(anonymous, password):
    response = anonymous.post(REGISTER, {"username": "linlinlin", "password": password})

    assert response.status_code == 400
    assert set(response.json()) == {"password"}
    assert not get_user_model().objects.filter(username="linlinlin").exists()


@pytest.mark.parametrize(
    "payload",
    [{}, {"username": "lin"}, {"password": PASSWORD}, {"username": "", "password": PASSWORD}],
)
def test_missing_registration_fields_are_400(anonymous, payload):
    response = anonymous.post(REGISTER, payload)

    assert response.status_code == 400


def test_an_invalid_username_is_400(anonymous):
    response = anonymous.post(REGISTER, {"username": "../admin root", "password": PASSWORD})

    assert response.status_code == 400
    assert "username" in response.json()


def test_the_password_is_never_echoed(anonymous):
    response = anonymous.post(REGISTER, {"username": "", "password": PASSWORD})

    assert PASSWORD not in response.content.decode()


def test_the_token_endpoint_returns_the_users_token(anonymous, user):
    response = anonymous.post(TOKEN, {"username": "ada", "password": "a-long-pass-phrase-1"})

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=user).key}


def test_the_token_is_the_same_on_each_login(anonymous, user):
    first = anonymous.post(TOKEN, {"username": "ada", "password": "a-long-pass-phrase-1"}).json()
    second = anonymous.post(TOKEN, {"username": "ada", "password": "a-long-pass-phrase-1"}).json()

    assert first == second


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "ada", "password": "wrong"},
        {"username": "nobody", "password": "a-long-pass-phrase-1"},
    ],
)
def test_bad_credentials_are_400(anonymous, user, payload):
    response = anonymous.post(TOKEN, payload)

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_missing_credentials_are_400(anonymous):
    response = anonymous.post(TOKEN, {})

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_an_inactive_user_gets_no_token(anonymous, user):
    user.is_active = False
    user.save()

    assert anonymous.post(TOKEN, {"username": "ada", "password": "a-long-pass-phrase-1"}).status_code == 400


def test_a_stale_token_header_does_not_block_logging_in(anonymous, user):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anonymous.post(TOKEN, {"username": "ada", "password": "a-long-pass-phrase-1"})

    assert response.status_code == 200


def test_logging_in_is_throttled_with_retry_after(anonymous, user, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "auth", "3/min")

    statuses = [anonymous.post(TOKEN, {"username": "ada", "password": "guess"}).status_code for _ in range(4)]
    throttled = anonymous.post(TOKEN, {"username": "ada", "password": "a-long-pass-phrase-1"})

    assert statuses == [400, 400, 400, 429]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert set(throttled.json()) == {"detail"}


def test_registering_is_throttled_too(anonymous, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "auth", "1/min")

    assert anonymous.post(REGISTER, {"username": "one", "password": PASSWORD}).status_code == 201
    response = anonymous.post(REGISTER, {"username": "two", "password": PASSWORD})

    assert response.status_code == 429
    assert "Retry-After" in response
