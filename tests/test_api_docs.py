"""The OpenAPI schema and its docs page, with DEBUG=0 and no internet."""

import re

import pytest
from django.core.management import call_command

from tests.api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "/api/auth/register/": {"post"},
    "/api/auth/token/": {"post"},
    "/api/sources/": {"get", "post"},
    "/api/sources/{id}/": {"get", "delete"},
    "/api/sources/{id}/retry/": {"post"},
    "/api/notes/": {"get"},
    "/api/notes/{id}/": {"get"},
    "/api/notes/{id}/flashcards.csv": {"get"},
    "/api/notes/{id}/flashcards.apkg": {"get"},
    "/api/health/": {"get"},
    "/api/health/details/": {"get"},
}


@pytest.fixture
def schema(client, settings) -> dict:
    settings.DEBUG = False
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_documents_every_endpoint(schema):
    documented = {
        path: set(operations) & {"get", "post", "delete", "put", "patch"}
        for path, operations in schema["paths"].items()
    }

    assert documented == ENDPOINTS


def test_the_schema_documents_create_as_json_or_multipart_with_its_error_codes(schema):
    create = schema["paths"]["/api/sources/"]["post"]

    assert set(create["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    upload = create["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][upload]["properties"]["file"] == {
        **schema["components"]["schemas"][upload]["properties"]["file"],
        "type": "string",
        "format": "binary",
    }
    assert {"202", "400", "401", "413", "415", "429"} <= set(create["responses"])


def test_the_schema_documents_retry_conflicts_and_health_outages(schema):
    assert {"202", "404", "409"} <= set(schema["paths"]["/api/sources/{id}/retry/"]["post"]["responses"])
    assert {"200", "503"} <= set(schema["paths"]["/api/health/"]["get"]["responses"])


def test_the_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_the_docs_page_and_its_bundled_assets_load_with_debug_off(client, settings):
    settings.DEBUG = False

    page = client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assets = set(re.findall(r"""["'](/static/drf_spectacular_sidecar/[^"']+)["']""", html))
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert any(asset.endswith(".css") for asset in assets)
    assert "cdn" not in html.lower()
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content)
        response.close()
