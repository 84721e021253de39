"""Failed admin logins are limited per client address and per username
(api/login_throttle.py): past the limit the login page answers with a form
error, and the password is not even checked."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "root-pass-phrase-9"
REFUSED = "Too many failed logins"


@pytest.fixture
def rates(settings):
    settings.ADMIN_LOGIN_FAILURE_RATES = {"address": "6/hour", "username": "3/hour"}
    return settings.ADMIN_LOGIN_FAILURE_RATES


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser(username="root", password=PASSWORD)


def login(client: Client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_after_too_many_failures_for_a_username_even_the_right_password_is_refused(client, root, rates):
    assert login(Client(), "root", PASSWORD).status_code == 302  # before: it works
    for _ in range(3):
        response = login(client, "root", "wrong")
        assert response.status_code == 200
        assert REFUSED not in response.content.decode()

    response = login(client, "root", PASSWORD)

    assert response.status_code == 200  # the form again, with its error: not a 500
    assert REFUSED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_username_limit_holds_from_any_address_and_in_any_case(client, root, rates):
    for number in range(3):
        login(client, "root", "wrong", address=f"203.0.113.{number}")

    response = login(Client(), "ROOT ", PASSWORD, address="203.0.113.99")

    assert REFUSED in response.content.decode()


def test_after_too_many_failures_from_an_address_every_username_is_refused(client, root, rates):
    for number in range(6):
        login(client, f"guess{number}", "wrong")

    from_there = login(client, "root", PASSWORD)
    elsewhere = login(Client(), "root", PASSWORD, address="192.0.2.55")

    assert REFUSED in from_there.content.decode()
    assert elsewhere.status_code == 302


def test_a_user_who_is_not_staff_counts_as_a_failure(client, rates, user):
    for _ in range(3):
        login(client, user.username, "a-long-pass-phrase-1")

    assert REFUSED in login(client, user.username, "a-long-pass-phrase-1").content.decode()


def test_by_default_a_person_may_mistype_a_few_times_but_not_ten(client, root):
    for _ in range(5):
        login(client, "root", "typo")
    assert login(Client(), "root", PASSWORD).status_code == 302

    for _ in range(5):
        login(client, "root", "typo")
    assert REFUSED in login(Client(), "root", PASSWORD).content.decode()
