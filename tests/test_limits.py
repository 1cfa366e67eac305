"""Limits: hostile or careless input answers a 4xx in the one error shape, never a 500.

A body past its route's limit is a 413 naming the limit, however it is sent; JSON nested too
deep or holding lone surrogates is a 400 naming where; numbers SQLite cannot store name no
item; stored text with control characters cannot break a calendar feed; an overlong scan
payload is malformed without being verified or cached. Every refusal leaves the database as
it was.
"""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from server import checkin
from tests.conftest import API, assert_error, scan, snapshot

DEFAULT_LIMIT = 256 * 1024
BATCH_LIMIT = 4 * 1024 * 1024
SQLITE_INT_MAX = 2**63 - 1


class EndlessBody(io.RawIOBase):
    """A chunked body with no Content-Length and no end: it counts what the server read."""

    def __init__(self) -> None:
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), 64 * 1024)
        buffer[:size] = b"x" * size
        self.read_so_far += size
        return size


def post_json_text(client, path: str, text: str | bytes, headers: dict):
    data = text.encode() if isinstance(text, str) else text
    return client.post(path, data=data, content_type="application/json", headers=headers)


# --- request body size ------------------------------------------------------------------


def test_a_body_past_the_default_limit_is_payload_too_large(app, client, door):
    before = snapshot(app.config["DATABASE"])

    response = client.post(
        f"{API}/checkins",
        json={"payload": "x" * DEFAULT_LIMIT, "list": "day1-entrance", "scan_id": "s-1"},
        headers=door,
    )

    body = assert_error(response, 413, "payload_too_large")
    assert body["limit"] == DEFAULT_LIMIT
    assert snapshot(app.config["DATABASE"]) == before


def test_a_50_mb_scan_is_refused_before_it_is_read(app, client, door):
    before = snapshot(app.config["DATABASE"])

    response = scan(client, door, "x" * 50_000_000, "s-1")

    assert assert_error(response, 413, "payload_too_large")["limit"] == DEFAULT_LIMIT
    assert snapshot(app.config["DATABASE"]) == before


def test_a_chunked_body_with_no_length_is_cut_at_the_limit(app, door):
    endless = EndlessBody()
    environ = EnvironBuilder(path=f"{API}/checkins", method="POST", headers=door, content_type="application/json")
    environ = environ.get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BufferedReader(endless), "wsgi.input_terminated": True})  # as gunicorn's chunked
    before = snapshot(app.config["DATABASE"])

    body, status, headers = run_wsgi_app(app, environ, buffered=True)

    assert (status, headers["Content-Type"]) == ("413 REQUEST ENTITY TOO LARGE", "application/json")
    assert json.loads(b"".join(body))["error"] == "payload_too_large"
    assert endless.read_so_far <= DEFAULT_LIMIT + 2 * 64 * 1024
    assert snapshot(app.config["DATABASE"]) == before


def test_the_default_limit_is_configurable(tmp_path, loaded_template, monkeypatch):
    import shutil

    from server import auth, create_app, db as database

    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    monkeypatch.setenv("EVENTDESK_MAX_BODY", "1000")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    connection = database.connect(app.config["DATABASE"])
    door = {"Authorization": "Bearer " + auth.create_token(connection, "door", event_slug="ecc2014", label="D")}
    connection.close()

    response = scan(app.test_client(), door, "x" * 1000, "s-1")

    assert assert_error(response, 413, "payload_too_large")["limit"] == 1000


def test_an_offline_batch_may_be_larger_than_the_default_up_to_4_mib(app, client, door, monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", "2014-10-20T09:00:00+02:00")
    scans = [
        {"payload": "y" * 500, "list": "day1-entrance", "scan_id": f"s-{n}", "scanned_at": "2014-10-20T08:00:00+02:00"}
        for n in range(1000)
    ]  # ~570 KB
    too_many = [{**item, "payload": "y" * 5000} for item in scans]  # ~5 MB
    before = snapshot(app.config["DATABASE"])

    refused = client.post(f"{API}/checkins/batch", json={"scans": too_many}, headers=door)
    after_refusal = snapshot(app.config["DATABASE"])
    taken = client.post(f"{API}/checkins/batch", json={"scans": scans}, headers=door)

    assert assert_error(refused, 413, "payload_too_large")["limit"] == BATCH_LIMIT
    assert after_refusal == before
    assert taken.status_code == 200
    assert {item["result"] for item in taken.get_json()["results"]} == {"malformed"}


# --- JSON nesting and lone surrogates ---------------------------------------------------


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 33 + "1" + "}" * 33, "[" * 100_000])
def test_json_nested_too_deep_is_invalid_input_naming_body(app, client, door, text):
    before = snapshot(app.config["DATABASE"])

    response = post_json_text(client, f"{API}/checkins", text, door)

    body = assert_error(response, 400, "invalid_input")
    assert body["fields"] in ({"body": "at most 32 levels deep"}, {"body": "is not valid JSON"})
    assert snapshot(app.config["DATABASE"]) == before


def test_json_nested_100000_deep_names_the_depth(client, door):
    response = post_json_text(client, f"{API}/checkins", "[" * 100_000 + "]" * 100_000, door)

    assert assert_error(response, 400, "invalid_input")["fields"] == {"body": "at most 32 levels deep"}


@pytest.mark.parametrize(
    ("path", "text", "field"),
    [
        (f"{API}/checkins", '{"payload": "\\ud800", "list": "day1-entrance", "scan_id": "s-1"}', "payload"),
        (f"{API}/checkins", '{"payload": "a", "list": "day1-entrance", "scan_id": "s-1", "\\udfff": 1}', "\\udfff"),
        (
            f"{API}/checkins/batch",
            '{"scans": [{"payload": "a", "list": "x\\uDBFF", "scan_id": "s-1", "scanned_at": "x"}]}',
            "scans[0].list",
        ),
        ("/api/v1/events/ecc2014/checkin-lists", '{"id": "gala", "name": "G\\ud83d"}', "name"),
    ],
    ids=["value", "key", "nested-value", "half-a-pair"],
)
def test_a_lone_surrogate_anywhere_is_invalid_input_naming_its_path(app, client, admin, path, text, field):
    before = snapshot(app.config["DATABASE"])

    response = post_json_text(client, path, text, admin)

    body = assert_error(response, 400, "invalid_input")
    assert list(body["fields"]) == [field]
    assert snapshot(app.config["DATABASE"]) == before


def test_a_surrogate_pair_is_one_character_and_welcome(client, admin):
    gala = {"id": "gala", "name": "Gala ", "start": "2014-10-20T19:00", "end": "2014-10-20T23:00"}
    text = str(gala).replace("'", '"').replace("Gala ", "Gala \\ud83c\\udf89")

    response = post_json_text(client, f"{API}/checkin-lists", text, admin)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == "Gala 🎉"


def test_a_body_that_is_not_utf8_is_invalid_input(app, client, door):
    before = snapshot(app.config["DATABASE"])

    response = post_json_text(client, f"{API}/checkins", b'{"payload": "\xed\xa0\x80"}', door)

    assert assert_error(response, 400, "invalid_input")["fields"] == {"body": "must be UTF-8"}
    assert snapshot(app.config["DATABASE"]) == before


# --- integers SQLite cannot store -------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "number"),
    [
        ("post", f"{API}/checkins/{2**63}/undo", 2**63),
        ("post", f"{API}/checkins/{2**64 + 5}/undo", 2**64 + 5),
        ("delete", f"{API}/devices/{2**63}", 2**63),
    ],
)
def test_an_id_in_the_path_past_sqlites_integers_is_not_found_naming_it(app, client, admin, method, path, number):
    before = snapshot(app.config["DATABASE"])

    response = getattr(client, method)(path, headers=admin)

    message = assert_error(response, 404, "not_found")["message"]
    assert f"no item numbered {number}" in message and "2^63-1" in message
    assert snapshot(app.config["DATABASE"]) == before


def test_the_largest_storable_id_is_simply_unknown(client, admin):
    response = client.post(f"{API}/checkins/{SQLITE_INT_MAX}/undo", headers=admin)

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{API}/door-bundle?since={2**63}.0", "since"),
        (f"{API}/door-bundle?since=0.{2**63}", "since"),
        (f"{API}/attendees?page={'9' * 5000}", "page"),
        (f"{API}/attendees?per_page={2**64}", "per_page"),
    ],
)
def test_a_number_in_the_query_past_sqlites_integers_is_bad_parameter_naming_it(client, admin, path, field):
    response = client.get(path, headers=admin)

    assert_error(response, 400, "bad_parameter", field=field)


@pytest.mark.parametrize("since", [str(2**63), "9" * 5000])
def test_changes_since_a_version_past_sqlites_integers_is_gone(client, since):
    response = client.get(f"{API}/changes?since={since}")

    assert assert_error(response, 410, "gone")["version"] == 1


def test_a_day_number_with_thousands_of_digits_is_not_found(client):
    response = client.get(f"{API}/sessions?day={'9' * 5000}")

    assert_error(response, 404, "not_found", field="day")


# --- check-in list categories -----------------------------------------------------------


@pytest.mark.parametrize("categories", [[{}], [["x"]], [None], [1], "press"])
def test_checkin_list_categories_that_are_not_names_are_refused_naming_them(app, client, admin, categories):
    gala = {"id": "gala", "name": "Gala", "start": "2014-10-20T19:00", "end": "2014-10-20T23:00"}
    before = snapshot(app.config["DATABASE"])

    created = client.post(
        f"{API}/checkin-lists", json={**gala, "audience": "categories", "categories": categories}, headers=admin
    )
    patched = client.patch(f"{API}/checkin-lists/day1-entrance", json={"categories": categories}, headers=admin)

    assert_error(created, 400, "invalid_input", field="categories")
    assert_error(patched, 400, "invalid_input", field="categories")
    assert snapshot(app.config["DATABASE"]) == before


# --- calendar feeds defend themselves ---------------------------------------------------


def parsed(response):
    from icalendar import Calendar

    assert response.status_code == 200, response.get_data(as_text=True)
    return Calendar.from_ical(response.data)


@pytest.mark.parametrize("q", ["a%0Ab", "plenary%0D%0A", "plenary%00", "plenary%1B[31m"])
def test_a_control_character_in_q_is_bad_parameter_naming_q(client, q):
    for path in (f"{API}/programme.ics?q={q}", f"{API}/sessions?q={q}"):
        response = client.get(path)

        assert_error(response, 400, "bad_parameter", field="q")


def test_a_stored_title_with_cr_lf_gives_a_valid_feed(app, client):
    connection = sqlite3.connect(app.config["DATABASE"])
    with connection:  # bypassing validation, as an old import or a hand edit could
        connection.execute(
            "UPDATE sessions SET title = ?, abstract = ? WHERE id = 'opening-plenary'",
            ("Opening\r\nBEGIN:VEVENT\x1b[31m", "First line\r\nSecond line\x00"),
        )
    connection.close()

    programme = parsed(client.get(f"{API}/programme.ics"))
    one = parsed(client.get(f"{API}/sessions/opening-plenary.ics"))

    for calendar in (programme, one):
        events = [item for item in calendar.walk("VEVENT") if item["UID"].startswith(one.walk("VEVENT")[0]["UID"])]
        assert [str(item["SUMMARY"]) for item in events] == ["Opening BEGIN:VEVENT [31m"]
        assert str(events[0]["DESCRIPTION"]).startswith("First line\nSecond line \n\n")


def test_feed_text_helpers_keep_newlines_only_in_descriptions():
    from server import ical

    assert ical.one_line("a\r\nb\tc\x00d\x85e\u2028f") == "a b c d e f"
    assert ical.multi_line("a\r\nb\rc\nd\x0be") == "a\nb\nc\nd e"


# --- scan payloads and the verified-code cache ------------------------------------------


def test_a_payload_past_512_characters_is_malformed_and_never_cached(client, db, door, monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", "2014-10-20T09:00:00+02:00")
    checkin._check_code.cache_clear()
    long_text = "ED1:ECC2014:" + "A" * 588

    response = scan(client, door, long_text, "s-1")

    body = response.get_json()
    assert (response.status_code, body["result"], body["serial"]) == (400, "malformed", None)
    assert checkin._check_code.cache_info().currsize == 0
    assert db.conn.execute("SELECT result FROM scans WHERE scan_id = 's-1'").fetchone()[0] == "malformed"


def test_the_verified_code_cache_is_bounded():
    info = checkin._check_code.cache_info()

    assert info.maxsize * checkin.MAX_PAYLOAD <= 16 * 1024 * 1024
