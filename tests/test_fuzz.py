"""A bounded property-based run of the whole API from its own spec (schemathesis).

Each operation is fed generated data, valid and invalid, with the built-in event's real ids
in its path and a token of the role it needs, so the run gets past 404 and 401 into the
code behind. Every answer must be one the spec documents: no 5xx, no undocumented status,
content type or body. The seed is fixed (derandomized), so a failure repeats; each operation
runs on a fresh copy of the database, so one operation's deletes do not starve the next.
New routes are covered as soon as they are in the spec.
"""

from __future__ import annotations

import shutil
import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server import attendees, auth, create_app, db as database, matchmaking, meetings
from tests.conftest import EVENT, bearer

EXAMPLES = 12  # per operation and generation mode: about 1,700 requests in all
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ITEM_IDS = {"rooms": "plenary-hall", "tracks": "sme-growth", "speakers": "ceo-photonics-sme"}


def _operations() -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_wsgi("/api/v1/swagger.json", create_app({"TESTING": True}))
    return sorted(f"{op.method.upper()} {op.path}" for op in (result.ok() for result in schema.get_all_operations()))


class World:
    """The built-in conference with one of everything a path can name, and a token per role."""

    def __init__(self, tmp_path, template):
        shutil.copy(template, tmp_path / "eventdesk.sqlite3")
        self.app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
        db = database.connect(self.app.config["DATABASE"])
        person = {"name": "Fuzz Tester", "email": "fuzz@example.org", "category": "cluster-manager"}
        document, attendee_token = attendees.create_attendee(db, EVENT, person)
        self.tokens = {
            "admin": auth.create_token(db, "admin", label="fuzz"),
            "door": auth.create_token(db, "door", event_slug=EVENT, label="Fuzz door"),
            "attendee": attendee_token,
        }
        device = db.conn.execute("SELECT id FROM api_tokens WHERE role = 'door' ORDER BY id DESC").fetchone()[0]
        participant, meeting = self._matchmaking(db, document["id"])
        db.close()
        client = self.app.test_client()
        ticket = client.get("/api/v1/me/ticket", headers=bearer(attendee_token)).get_json()
        scan = client.post(
            f"/api/v1/events/{EVENT}/checkins",
            json={"payload": ticket["payload"], "list": "day1-entrance", "scan_id": "fuzz-1"},
            headers=bearer(self.tokens["door"]),
        ).get_json()
        feed = client.get("/api/v1/me/calendar", headers=bearer(attendee_token)).get_json()["https"]
        self.path_values = {
            "event": EVENT,
            "session_id": "opening-plenary",
            "attendee_id": document["id"],
            "ref": "day1-entrance",
            "device_id": device,
            "scan": scan["id"],
            "token": feed.rsplit("/", 1)[-1].removesuffix(".ics"),
            "participant_id": participant,
            "meeting_id": meeting,
        }

    @staticmethod
    def _matchmaking(db, attendee_id: str) -> tuple[str, str]:
        """The fuzz attendee as a participant, asked for a meeting by another (requests open till 2100)."""
        event = db.conn.execute("SELECT * FROM events WHERE slug = ?", (EVENT,)).fetchone()
        settings = matchmaking.settings_row(db, event["id"])
        db.conn.execute("UPDATE matchmaking_settings SET requests_close_at = '2100-01-01T00:00:00Z'")
        profile = {"organisation": "Fuzz Cluster", "cluster": "Fuzz", "country": "BE"}
        fuzz_pk = attendees.attendee_pk(db, EVENT, attendee_id)
        mine, _ = matchmaking.put_profile(db, fuzz_pk, profile)
        other = {"name": "Fuzz Partner", "email": "partner@example.org", "category": "cluster-manager"}
        other_pk = attendees.attendee_pk(db, EVENT, attendees.create_attendee(db, EVENT, other)[0]["id"])
        matchmaking.put_profile(db, other_pk, {**profile, "organisation": "Partner Cluster"})
        meeting = meetings.request_meeting(db, other_pk, {"with": mine["id"]})
        assert settings is not None
        return mine["id"], meeting["id"]

    def path_parameters(self, path: str) -> dict:
        values = dict(self.path_values)
        for plural, item_id in ITEM_IDS.items():
            if f"/{plural}/" in path:
                values["item_id"] = item_id
        return {name: value for name, value in values.items() if "{" + name + "}" in path}

    def headers(self, operation) -> dict:
        """The token of the role the operation needs (none for public reads).

        Bodies are asked for unzipped: schemathesis's in-process transport does not undo gzip
        (the gzip variants are tested in test_caching).
        """
        plain = {"Accept-Encoding": "identity"}
        if not operation.definition.raw.get("security"):
            return plain
        path = operation.path
        if path.startswith("/me"):
            role = "attendee"
        elif ("/checkins" in path or "/door-bundle" in path) and not path.endswith(("/undo", "/desk")):
            role = "door"
        else:
            role = "admin"
        return {**plain, **bearer(self.tokens[role])}


@pytest.mark.parametrize("operation_name", _operations())
def test_the_api_answers_only_what_its_spec_promises(operation_name, tmp_path, loaded_template):
    world = World(tmp_path, loaded_template)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_wsgi("/api/v1/swagger.json", world.app)
        method, path = operation_name.split(" ", 1)
        operation = schema[path][method]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = operation.as_strategy(
            mode, path_parameters=world.path_parameters(path), headers=world.headers(operation)
        )

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                response = case.call()
                case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise  # with fixed ids, an operation with no query or body has nothing to make invalid
