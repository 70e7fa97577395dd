"""The HTTP edge: unknown routes, methods, health and the server's own OpenAPI document."""

from __future__ import annotations

import httpx

from tests.conftest import Credentials, LiveServer, test_settings


def test_unknown_route_is_a_twilio_shaped_404(http: httpx.Client) -> None:
    response = http.get("/v2/Nope")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "more_info", "status"}
    assert response.headers["content-type"] == "application/json"


def test_wrong_method_is_a_twilio_shaped_405(server: LiveServer) -> None:
    response = httpx.request("PATCH", server.url + "/healthz", timeout=10)
    assert (response.status_code, response.json()["code"], response.json()["status"]) == (405, 20004, 405)


def test_a_405_names_the_allowed_methods(http: httpx.Client) -> None:
    response = http.request("TRACE", "/v2/Conversations")
    assert response.status_code == 405
    assert sorted(m.strip() for m in response.headers["allow"].split(",")) == ["GET", "HEAD", "POST"]


def test_health_endpoint_answers_ok(server: LiveServer) -> None:
    response = httpx.get(server.url + "/healthz", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_openapi_document_lists_every_v2_route(server: LiveServer) -> None:
    document = httpx.get(server.url + "/openapi.json", timeout=10).json()
    paths = document["paths"]
    assert document["openapi"].startswith("3.")
    for path, method in [
        ("/v2/ControlPlane/Configurations", "post"),
        ("/v2/ControlPlane/Operations/{id}", "get"),
        ("/v2/Conversations", "post"),
        ("/v2/Conversations/{id}", "delete"),
        ("/v2/Conversations/{ConversationId}/Participants", "post"),
        ("/v2/Conversations/{ConversationId}/Communications", "post"),
        ("/v2/Conversations/{ConversationId}/Actions", "post"),
        ("/v2/Conversations/{ConversationId}/Actions/{ActionId}", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from /openapi.json"


def test_the_body_limit_is_the_max_body_bytes_setting(database_url: str, account: Credentials) -> None:
    live = LiveServer(test_settings(database_url, max_body_bytes=2048)).start(run_worker=False)
    try:
        auth = (account.account_sid, account.auth_token)

        def post(size: int) -> httpx.Response:
            body = b'{"configurationId": "' + b"x" * (size - 23) + b'"}'
            assert len(body) == size
            headers = {"Content-Type": "application/json"}
            return httpx.post(live.url + "/v2/Conversations", content=body, headers=headers, auth=auth, timeout=10)

        assert post(2048).status_code == 400  # read whole, then refused for its content
        refused = post(2049)
        assert (refused.status_code, refused.json()["code"]) == (413, 20001)
        assert "2048 bytes" in refused.json()["message"]
    finally:
        live.stop()
