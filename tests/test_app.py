from lms import create_app


def test_healthz_reports_app_and_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["plugins"]["loaded"] >= 4
    assert body["plugins"]["failed"] == []


def test_healthz_says_503_when_the_database_is_unreachable(app_config, tmp_path):
    app = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"]["ok"] is False


def test_unknown_page_is_a_clear_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_json_clients_get_json_errors(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_security_headers_are_set(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_ids_beyond_the_database_integer_range_are_404(client, organizer):
    client.login(organizer.email)
    for url in ("/live/2147483648", "/teach/courses/2147483648", "/media/lessons/99999999999"):
        assert client.get(url).status_code == 404
