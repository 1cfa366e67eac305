"""The attendee's personal data, handed over on request (GET /me/export)."""

from __future__ import annotations

from flask import g
from flask_restx import Namespace, Resource

from server import data_lifecycle
from server.api.common import error_model, model
from server.api.security import attendee_required, refusals
from server.db_app import get_db

ns = Namespace("my data", description="Everything Eventdesk holds about the attendee (personal API token)", path="/me")
error = error_model(ns)
export_model = model(ns, "PersonalDataExport")


@ns.route("/export")
@ns.doc(security="bearer", responses=refusals(error, "attendee"))
class MyDataExport(Resource):
    @ns.response(200, "All your personal data as JSON; Cache-Control: no-store", export_model)
    @attendee_required
    def get(self):
        """Everything Eventdesk holds about you: record, schedule, tickets, check-ins, matchmaking, devices, emails."""
        return data_lifecycle.export(get_db(), g.attendee_pk), 200, {"Cache-Control": "no-store"}
