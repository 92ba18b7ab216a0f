"""Every endpoint of the HTTP service and every bad input, through TestClient."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model.artifact import verified_card
from service.app import create_app
from service.routes import router
from service.settings import Settings

ARTICLE_ID = "003_2d5113ef618b1c85"
API_KEY, ADMIN_KEY = "user-key", "admin-key"


@pytest.fixture
def settings(trained_dir: Path, tmp_path: Path, session_model_served_once: None) -> Settings:
    return Settings(model_dir=trained_dir, data_dir=tmp_path / "data", max_batch=50,
                    max_comment_chars=500, max_body_bytes=64 * 1024)


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def keyed_client(settings: Settings):
    keyed = settings.model_copy(update={"api_keys": [API_KEY], "admin_keys": [ADMIN_KEY]})
    with TestClient(create_app(keyed)) as test_client:
        yield test_client


def moderate(client: TestClient, *comments: dict, **kwargs):
    return client.post("/v1/moderate", json={"comments": list(comments)}, **kwargs)


def test_moderate_one_comment(client: TestClient) -> None:
    response = moderate(client, {"id": "c1", "text": "You are a pathetic idiot.", "article_id": ARTICLE_ID})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"]
    [result] = body["results"]
    assert result["id"] == "c1" and result["category"] == "abusive"
    assert set(result) == {"id", "category", "scores", "stance", "stance_scores", "decision", "reasons",
                           "explanation"}
    assert abs(sum(result["scores"].values()) - 1) < 1e-5
    assert result["explanation"] and result["reasons"]


def test_batch_keeps_order_and_ids(client: TestClient) -> None:
    comments = [{"id": i, "text": text} for i, text in enumerate(
        ["Thank you for this careful article.", "And what about Guantanamo, hypocrites?",
         "Go to hell you worthless scumbag."])]
    results = moderate(client, *comments).json()["results"]
    assert [r["id"] for r in results] == [0, 1, 2]
    assert [r["category"] for r in results] == ["substantive", "whataboutism", "abusive"]


def test_inline_article_and_registered_article(client: TestClient, settings: Settings) -> None:
    article = {"title": "City council votes on bike lanes", "body": "The council voted 7-2 to replace parking."}
    inline = moderate(client, {"text": "Good decision, the street is dangerous.", "article": article})
    assert inline.status_code == 200
    registered = client.post("/v1/articles", json={"id": "bikes", **article})
    assert registered.status_code == 201 and registered.json() == {"id": "bikes", "created": True}
    again = client.post("/v1/articles", json={"id": "bikes", **article})
    assert again.status_code == 200 and again.json() == {"id": "bikes", "created": False}
    by_id = moderate(client, {"text": "Good decision, the street is dangerous.", "article_id": "bikes"})
    assert by_id.json()["results"][0]["scores"] == inline.json()["results"][0]["scores"]


def test_registered_articles_survive_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first:
        first.post("/v1/articles", json={"id": "kept", "title": "T", "body": "B"})
    with TestClient(create_app(settings)) as second:
        assert moderate(second, {"text": "fine", "article_id": "kept"}).status_code == 200


@pytest.mark.parametrize("payload, status, field", [
    ({"comments": [{"text": ""}]}, 422, "comments[0].text"),
    ({"comments": [{"text": "   \n"}]}, 422, "comments[0].text"),
    ({"comments": [{"text": 42}]}, 422, "comments[0].text"),
    ({"comments": [{"text": None}]}, 422, "comments[0].text"),
    ({"comments": [{"id": "x"}]}, 422, "comments[0].text"),
    ({"comments": [{"text": "hi", "colour": "red"}]}, 422, "comments[0].colour"),
    ({"comments": [{"text": "hi", "article_id": "missing"}]}, 422, "comments[0].article_id"),
    ({"comments": [{"text": "x" * 501}]}, 422, "comments[0].text"),
    ({"comments": [{"text": "x"}] * 51}, 413, "comments"),
    ({"comments": []}, 422, "comments"),
    ({"notes": []}, 422, "comments"),
    ({"comments": [{"text": "hi", "article": {"title": "t"}}]}, 422, "comments[0].article.body"),
    ([1, 2], 422, "body"),
])
def test_bad_input_gets_a_4xx_naming_the_field(client: TestClient, payload, status: int, field: str) -> None:
    response = client.post("/v1/moderate", json=payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]
    assert any(d.get("field") == field for d in body["detail"]), body
    assert moderate(client, {"text": "still serving"}).status_code == 200


def test_limits_are_named_in_the_message(client: TestClient) -> None:
    assert "over the limit of 500" in moderate(client, {"text": "x" * 501}).json()["error"]
    assert "over the limit of 50" in moderate(client, *[{"text": "x"}] * 51).json()["error"]


@pytest.mark.parametrize("content, content_type, status", [
    (b'{"comments": [', "application/json", 400),
    (b"\xff\xfe\xfa", "application/json", 400),
    (b'{"comments": [{"text": "hi"}]}', "text/plain", 415),
    (b'{"comments": [{"text": "hi"}]}', "", 415),
    (b"x" * (65 * 1024), "application/json", 413),
    (b'{"comments": [{"text": "hi"}]}', "application/jsonx", 415),  # was let through, then a confusing 422
    (b'{"comments": [{"text": "hi"}]}', "Application/JSON; charset=utf-8", 200),
    (b'{"comments": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400),  # was {"detail": ...}
])
def test_malformed_bodies(client: TestClient, content: bytes, content_type: str, status: int) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/moderate", content=content, headers=headers)
    assert response.status_code == status
    assert set(response.json()) == ({"model_version", "results"} if status == 200 else {"error", "detail"})


def test_a_body_nested_too_deeply_is_named_as_such(client: TestClient) -> None:
    nested = b'{"comments": ' + b"[" * 5000 + b"]" * 5000 + b"}"  # json.loads raises RecursionError
    response = client.post("/v1/moderate", content=nested, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "request body is not valid JSON: nested too deeply"
    assert response.json()["detail"][0]["field"] == "body"
    huge_number = b'{"comments": [{"id": ' + b"1" * 5000 + b', "text": "hi"}]}'  # a ValueError, not nesting
    response = client.post("/v1/moderate", content=huge_number, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "nested" not in response.json()["error"]
    assert "digits" in response.json()["error"]


def test_a_post_to_a_route_without_one_is_refused_by_method_not_body(client: TestClient) -> None:
    text = {"content": b"x", "headers": {"content-type": "text/plain"}}  # would be a 415 on a POST route
    assert client.post("/v1/queue", **text).status_code == 405  # was a 415 naming the content type
    assert client.post("/no/such/route", **text).status_code == 415  # an unknown path is checked still
    assert client.post("/v1/moderate", **text).status_code == 415
    for path in ("/v1/feedback/c1", "/review/static/review.js"):  # a route with a path parameter: was a 415
        assert client.post(path, **text).status_code == 405


@pytest.mark.parametrize("text", ["😀🔥 great", "مرحبا بكم في التعليقات", "שלום עולם", "e\u0301\u0301\u0301 ok",
                                  "nul\u0000 inside", "\u202eright to left override"])
def test_unusual_characters_are_scored(client: TestClient, text: str) -> None:
    response = moderate(client, {"text": text})
    assert response.status_code == 200
    assert abs(sum(response.json()["results"][0]["scores"].values()) - 1) < 1e-5


def test_model_health_ready_metrics_docs(client: TestClient, card: dict) -> None:
    assert client.get("/v1/model").json()["model_version"] == card["model_version"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    assert client.head("/healthz").status_code == client.head("/readyz").status_code == 200  # load balancers' probe
    moderate(client, {"text": "Go to hell you worthless scumbag."})
    metrics = client.get("/metrics").text
    assert 'moderate_decisions_total{category="abusive"' in metrics
    assert "moderate_request_seconds_bucket" in metrics
    assert f'moderate_model_info{{model_version="{card["model_version"]}"}} 1.0' in metrics
    assert client.get("/docs").status_code == 200
    assert "/v1/moderate" in client.get("/openapi.json").json()["paths"]


def test_decision_counts_add_up_over_a_batch(client: TestClient) -> None:
    def count(category: str, decision: str) -> float:
        line = f'moderate_decisions_total{{category="{category}",decision="{decision}"}} '
        found = [row for row in client.get("/metrics").text.splitlines() if row.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    comments = [{"text": "Go to hell you worthless scumbag."}, {"text": "Koreans are vermin and should be exterminated."},
                {"text": "This article is biased nonsense."}, {"text": "Go to hell you worthless scumbag!"}]
    results = client.post("/v1/moderate", json={"comments": comments}).json()["results"]
    pairs = [(r["category"], r["decision"]) for r in results]
    before = {pair: count(*pair) for pair in set(pairs)}
    client.post("/v1/moderate", json={"comments": comments})
    assert {pair: count(*pair) - before[pair] for pair in set(pairs)} == {pair: pairs.count(pair) for pair in set(pairs)}
    assert pairs.count(("abusive", "reject")) >= 2


def test_api_keys(keyed_client: TestClient) -> None:
    assert moderate(keyed_client, {"text": "hi"}).status_code == 401
    assert moderate(keyed_client, {"text": "hi"}, headers={"X-API-Key": "wrong"}).status_code == 401
    assert moderate(keyed_client, {"text": "hi"}, headers={"X-API-Key": API_KEY}).status_code == 200
    assert moderate(keyed_client, {"text": "hi"},
                    headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    for scheme in ("bearer", "BEARER"):  # RFC 7235: the scheme is case-insensitive; these were a 401
        assert moderate(keyed_client, {"text": "hi"},
                        headers={"Authorization": f"{scheme} {API_KEY}"}).status_code == 200
    assert moderate(keyed_client, {"text": "hi"}, headers={"Authorization": f"Basic {API_KEY}"}).status_code == 401
    assert keyed_client.post("/v1/articles", json={"id": "a", "title": "t", "body": "b"}).status_code == 401
    seed = keyed_client.post("/v1/articles", json={"id": ARTICLE_ID, "title": "t", "body": "b"},
                             headers={"X-API-Key": API_KEY})
    assert seed.status_code == 409 and "shipped seed article" in seed.json()["error"]
    assert keyed_client.get("/v1/model").status_code == 401
    assert keyed_client.get("/healthz").status_code == 200


def test_every_api_route_refuses_a_request_without_a_key(keyed_client: TestClient) -> None:
    """The key is checked by path, so a route added under /v1/ later is guarded without more code."""
    routes = [(method, route.path.replace("{comment_id:path}", "c1")) for route in router.routes
              for method in getattr(route, "methods", ()) if route.path.startswith("/v1/")]
    assert len(routes) >= 7
    for method, path in routes:
        assert keyed_client.request(method, path).status_code == 401, (method, path)
        if path.startswith("/v1/admin/"):
            assert keyed_client.request(method, path, headers={"X-API-Key": API_KEY}).status_code == 401
    assert keyed_client.get("/v1/no-such-route").status_code == 401, "nothing is learnt of the API without a key"
    assert keyed_client.get("/v1/no-such-route", headers={"X-API-Key": API_KEY}).status_code == 404
    assert keyed_client.get("/review").status_code == 401 and "<form" in keyed_client.get("/review").text


def test_a_request_without_a_key_gets_401_before_its_body_is_judged(keyed_client: TestClient) -> None:
    """A caller without a key learns nothing of the limits or the body's checks."""
    huge = {"comments": [{"text": "x" * 70_000}]}
    assert keyed_client.post("/v1/moderate", json=huge).status_code == 401
    assert keyed_client.post("/v1/moderate", content=b"text", headers={"Content-Type": "text/plain"}).status_code == 401
    assert keyed_client.post("/v1/feedback", content=b"\xff", headers={"Content-Type": "application/json"}
                             ).status_code == 401
    assert keyed_client.post("/v1/admin/reload", json=huge, headers={"X-API-Key": API_KEY}).status_code == 401
    assert keyed_client.post("/v1/moderate", json=huge, headers={"X-API-Key": API_KEY}).status_code == 413
    assert keyed_client.post("/review/login", content=b"key", headers={"Content-Type": "text/plain"}
                             ).status_code == 415
    body = keyed_client.post("/v1/moderate", json=huge).json()
    assert "API key" in body["error"]


def test_keys_in_any_script_are_compared_without_a_500(settings: Settings) -> None:
    keyed = settings.model_copy(update={"api_keys": ["clé-ключ"], "admin_keys": [ADMIN_KEY]})
    with TestClient(create_app(keyed)) as client:
        assert moderate(client, {"text": "hi"}, headers={"X-API-Key": "clé-ключ".encode()}).status_code == 200
        assert moderate(client, {"text": "hi"}, headers={"X-API-Key": "é".encode()}).status_code == 401
        assert moderate(client, {"text": "hi"}, headers={"X-API-Key": b"\xe9"}).status_code == 401
        assert moderate(client, {"text": "hi"}, headers={"Authorization": "clé-ключ".encode()}).status_code == 401
        assert client.post("/review/login", json={"key": "é"}).status_code == 401
        assert client.post("/review/login", json={"key": "clé-ключ"}).status_code == 204


def test_admin_reload_needs_the_admin_key(keyed_client: TestClient) -> None:
    assert keyed_client.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).status_code == 401
    response = keyed_client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 200
    assert response.json()["model_version"] == response.json()["previous_model_version"]


def test_unauthorised_request_does_no_work(keyed_client: TestClient) -> None:
    before = keyed_client.get("/metrics").text.count("moderate_decisions_total{")
    moderate(keyed_client, {"text": "You are a pathetic idiot."})
    assert keyed_client.get("/metrics").text.count("moderate_decisions_total{") == before


def test_reload_refuses_a_broken_artifact_and_keeps_serving(trained_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(trained_dir, model_dir)
    settings = Settings(model_dir=model_dir, data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        with open(verified_card(model_dir)[1], "ab") as handle:
            handle.write(b"corrupt")
        response = client.post("/v1/admin/reload")
        assert response.status_code == 409
        assert "does not match the card" in response.json()["error"]
        assert moderate(client, {"text": "still here"}).status_code == 200


def test_reload_refuses_a_card_it_cannot_use_or_read_and_keeps_serving(trained_dir: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import model.artifact

    model_dir = tmp_path / "model"
    shutil.copytree(trained_dir, model_dir)
    with TestClient(create_app(Settings(model_dir=model_dir, data_dir=tmp_path / "data"))) as client:
        card = json.loads((model_dir / "model_card.json").read_text())
        (model_dir / "model_card.json").write_text(json.dumps({**card, "lexicons": "x"}))
        refused = client.post("/v1/admin/reload")
        assert refused.status_code == 409 and "lexicons must be an object" in refused.json()["error"]
        (model_dir / "model_card.json").write_text(json.dumps(card))
        monkeypatch.setattr(model.artifact, "sha256_of", lambda path: (_ for _ in ()).throw(
            PermissionError(13, "Permission denied", str(path))))
        denied = client.post("/v1/admin/reload")
        assert denied.status_code == 409 and "cannot be read (Permission denied)" in denied.json()["error"]
        assert moderate(client, {"text": "still here"}).status_code == 200


def test_comment_text_is_not_logged_at_info(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = "zebra-unicorn-secret-comment"
    with caplog.at_level("INFO"):
        moderate(client, {"text": secret})
    assert secret not in caplog.text


def test_with_several_workers_a_keep_alive_client_is_asked_to_reconnect_now_and_then(settings: Settings) -> None:
    several = settings.model_copy(update={"workers": 2, "requests_per_connection": 3, "seconds_per_connection": 0})
    body = {"comments": [{"text": "A fair summary of the report."}]}
    with TestClient(create_app(several)) as test_client:
        answers = [test_client.post("/v1/moderate", json=body) for _ in range(6)]
    assert [a.headers.get("connection") for a in answers] == [None, None, "close", None, None, "close"]
    assert all(a.status_code == 200 for a in answers)


def test_with_several_workers_a_connection_in_use_for_long_is_asked_to_reconnect(settings: Settings) -> None:
    several = settings.model_copy(update={"workers": 2, "requests_per_connection": 0,
                                          "seconds_per_connection": 0.2})
    body = {"comments": [{"text": "A fair summary of the report."}]}
    with TestClient(create_app(several)) as test_client:
        first, second = (test_client.post("/v1/moderate", json=body) for _ in range(2))
        time.sleep(0.25)
        late, fresh = (test_client.post("/v1/moderate", json=body) for _ in range(2))
    assert [a.headers.get("connection") for a in (first, second, late, fresh)] == [None, None, "close", None]


def test_one_worker_never_asks_to_reconnect(client) -> None:
    answers = [client.post("/v1/moderate", json={"comments": [{"text": "Thanks."}]}) for _ in range(120)]
    assert all(a.headers.get("connection") is None for a in answers)


@pytest.mark.parametrize("body, field", [
    ({"comments": [{"text": "hi"}], "queue": "yes"}, "queue"),
    ({"comments": [{"text": "hi", "article": {"title": " ", "body": "Body."}}]}, "comments[0].article.title"),
    ({"comments": [{"text": "hi", "article": {"title": "Title", "body": "\n"}}]}, "comments[0].article.body"),
])
def test_a_blank_article_or_a_queue_that_is_not_a_boolean_is_refused(client: TestClient, body: dict,
                                                                      field: str) -> None:
    response = client.post("/v1/moderate", json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == field


@pytest.mark.parametrize("field", ["id", "title", "body"])
def test_a_registration_with_a_blank_field_names_it(client: TestClient, field: str) -> None:
    """A blank id, title or body answered "id, title and body must be non-empty", naming none of them."""
    body = {"id": "mine", "title": "Title", "body": "Body."} | {field: " \n"}
    response = client.post("/v1/articles", json=body)
    assert response.status_code == 422 and response.json()["detail"] == [
        {"field": field, "message": f"{field} is empty or only whitespace"}]


def test_a_reload_is_not_repeated_by_the_workers_own_watcher(settings: Settings, monkeypatch) -> None:
    import service.serving

    monkeypatch.setattr(service.serving, "RELOAD_POLL_SECONDS", 0.02)
    with TestClient(create_app(settings)) as client:
        holder, loads = client.app.state.holder, []
        real_load = holder.load
        monkeypatch.setattr(holder, "load", lambda: loads.append(1) or real_load())
        assert client.post("/v1/admin/reload").status_code == 200
        time.sleep(0.3)
        client.get("/healthz")  # lets the watcher's task run
        time.sleep(0.1)
        assert len(loads) == 1


def test_a_reload_that_fails_unexpectedly_does_not_stop_the_worker_following_later_ones(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.serving

    monkeypatch.setattr(service.serving, "RELOAD_POLL_SECONDS", 0.02)
    with TestClient(create_app(settings)) as client:
        holder, loads = client.app.state.holder, []
        real_load = holder.load

        def load_failing_once() -> dict:
            loads.append(1)
            if len(loads) == 1:
                raise PermissionError(13, "Permission denied", "data/models")
            return real_load()

        monkeypatch.setattr(holder, "load", load_failing_once)
        for asked in (1, 2):  # another worker asks twice
            time.sleep(0.05)  # a new marker time
            service.serving.touch_reload_marker(settings)
            for _ in range(50):
                client.get("/healthz")  # lets the watcher's task run
                time.sleep(0.02)
                if len(loads) == asked:
                    break
        assert len(loads) == 2


def test_a_reload_that_cannot_write_is_refused_and_the_old_model_keeps_serving(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied() -> dict:
        raise PermissionError(13, "Permission denied", "data/models/default-retrained")

    monkeypatch.setattr(client.app.state.holder, "load", denied)
    response = client.post("/v1/admin/reload")
    assert response.status_code == 409
    assert response.json()["error"].endswith("data/models/default-retrained: Permission denied")
    assert moderate(client, {"text": "still here"}).status_code == 200


def test_an_unexpected_error_is_a_json_500_without_a_traceback(settings: Settings, monkeypatch) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        monkeypatch.setattr(client.app.state.articles, "get", lambda article_id: {}["boom"])
        response = moderate(client, {"text": "hi", "article_id": "any"})
        assert response.status_code == 500
        assert response.json()["error"] == "internal error (KeyError): see the server log"
        assert "Traceback" not in response.text


def test_the_review_sign_in_has_the_body_limit_too(client: TestClient) -> None:
    response = client.post("/review/login", content=b"{" + b" " * 70_000 + b"}",
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_refused_requests_are_counted_under_the_route_they_were_for(keyed_client: TestClient) -> None:
    """A 401, 413 or 415 is answered before routing, and was counted under path="unmatched", so a
    dashboard could not tell refused moderation requests from stray ones."""
    def count(path: str, status: int) -> float:
        line = f'moderate_requests_total{{path="{path}",status="{status}"}} '
        found = [row for row in keyed_client.get("/metrics").text.splitlines() if row.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    before = count("/v1/moderate", 401), count("/v1/feedback/{comment_id:path}", 401), count("unmatched", 401)
    keyed_client.post("/v1/moderate", json={"comments": [{"text": "hi"}]})
    keyed_client.get("/v1/feedback/some-comment")
    keyed_client.get("/v1/nowhere")
    assert count("/v1/moderate", 401) == before[0] + 1
    assert count("/v1/feedback/{comment_id:path}", 401) == before[1] + 1
    assert count("unmatched", 401) == before[2] + 1  # no route: still one label, however many stray paths
