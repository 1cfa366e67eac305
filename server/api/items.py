"""Rooms, tracks and speakers: the same public reads and admin writes for each kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_restx import Namespace, Resource

import server.api.sessions  # noqa: F401 - SpeakerDetail names the Session model
from server import programme, programme_edit
from server.api.common import NOT_MODIFIED, error_model, event_json, flag, json_object, model, write_result_model
from server.api.security import admin_required
from server.db_app import get_db
from server.errors import NotFound


@dataclass
class Kind:
    name: str  # "room"
    plural: str  # "rooms"
    lister: Callable  # (db, event) -> list
    getter: Callable  # (db, event, id) -> dict
    detail: str | None = None  # the model of the single-item read, when it has more


def _find(lister: Callable, kind: str) -> Callable:
    def getter(db, event, item_id):
        for item in lister(db, event):
            if item["id"] == item_id:
                return item
        raise NotFound(f"no {kind} {item_id!r} in event {event['slug']!r}", resource=kind)

    return getter


KINDS = [
    Kind("room", "rooms", programme.list_rooms, _find(programme.list_rooms, "room")),
    Kind("track", "tracks", programme.list_tracks, _find(programme.list_tracks, "track")),
    Kind("speaker", "speakers", programme.list_speakers, programme.get_speaker, detail="SpeakerDetail"),
]


def build_namespace(kind: Kind) -> Namespace:
    ns = Namespace(kind.plural, description=f"Programme {kind.plural}", path=f"/events/<string:event>/{kind.plural}")
    error = error_model(ns)
    write_result = write_result_model(ns)
    title = kind.name.capitalize()
    public = model(ns, title)
    detail = model(ns, kind.detail) if kind.detail else public
    create_input = model(ns, f"{title}Input")
    patch_input = model(ns, f"{title}Patch")

    @ns.route("")
    @ns.param("event", "Event slug, e.g. ecc2014")
    class ItemList(Resource):
        @ns.response(200, f"All {kind.plural}", [public])
        @ns.response(304, NOT_MODIFIED)
        @ns.response(404, "Unknown event", error)
        def get(self, event):
            return event_json(event, kind.lister)

        @ns.doc(security="bearer")
        @ns.expect(create_input)
        @ns.response(201, "Created", detail)
        @ns.response(400, "Malformed input", error)
        @ns.response(401, "No valid token", error)
        @ns.response(403, "Not an admin of this event", error)
        @ns.response(409, "The id is taken", error)
        @ns.response(422, "Invalid values", error)
        @admin_required
        def post(self, event):
            db = get_db()
            result = programme_edit.create_item(db, event, kind.name, json_object())
            return kind.getter(db, programme.get_event(db, event), result["id"]), 201

    ItemList.__name__ = f"{title}List"  # the spec's operationIds: get_room_list, post_room_list...
    ItemList.get.__doc__ = f"List the event's {kind.plural}."
    ItemList.post.__doc__ = f"Create a {kind.name} (admin)."

    @ns.route("/<string:item_id>")
    @ns.param("event", "Event slug, e.g. ecc2014")
    @ns.param("item_id", f"{title} id")
    class Item(Resource):
        @ns.response(200, f"The {kind.name}", detail)
        @ns.response(304, NOT_MODIFIED)
        @ns.response(404, f"Unknown event or {kind.name}", error)
        def get(self, event, item_id):
            return event_json(event, lambda db, row: kind.getter(db, row, item_id))

        @ns.doc(security="bearer")
        @ns.expect(patch_input)
        @ns.response(200, "Updated", detail)
        @ns.response(400, "Malformed input", error)
        @ns.response(401, "No valid token", error)
        @ns.response(403, "Not an admin of this event", error)
        @ns.response(404, f"Unknown event or {kind.name}", error)
        @ns.response(422, "Invalid values", error)
        @admin_required
        def patch(self, event, item_id):
            db = get_db()
            programme_edit.update_item(db, event, kind.name, item_id, json_object())
            return kind.getter(db, programme.get_event(db, event), item_id)

        @ns.doc(
            security="bearer",
            params={"force": "true to delete even when sessions use it (speakers only: unlinks them)"},
        )
        @ns.response(200, "Deleted", write_result)
        @ns.response(401, "No valid token", error)
        @ns.response(403, "Not an admin of this event", error)
        @ns.response(404, f"Unknown event or {kind.name}", error)
        @ns.response(409, "Sessions still use it", error)
        @admin_required
        def delete(self, event, item_id):
            force = flag("force") and kind.name == "speaker"
            return programme_edit.delete_item(get_db(), event, kind.name, item_id, force=force)

    Item.__name__ = title  # get_room, patch_room, delete_room
    Item.get.__doc__ = f"One {kind.name}" + (" with their sessions in full." if kind.detail else ".")
    Item.patch.__doc__ = f"Change some fields of a {kind.name} (admin)."
    Item.delete.__doc__ = f"Delete a {kind.name} (admin); refused while sessions use it."
    return ns


namespaces = [build_namespace(kind) for kind in KINDS]
