"""Admin: coin adjustments and the ledger's reconciliation."""

from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy.exc import IntegrityError

from mylivelinks.api.admin.schemas import (
    AdjustmentResultSchema,
    AdjustmentSchema,
    ReconciliationSchema,
)
from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.api.gifts.schemas import CatalogEditSchema, CatalogSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.idempotency import idempotent
from mylivelinks.ledger.errors import InsufficientFunds
from mylivelinks.ledger.reconciliation import latest_run
from mylivelinks.ledger.wallet import adjust_coins, wallet
from mylivelinks.models.profiles import Role
from mylivelinks.services.accounts.users import get_by_username
from mylivelinks.services.gifts import catalog

blp = Blueprint("admin", __name__, url_prefix="/admin", description="Administration")


@blp.route("/adjustments")
class Adjustments(MethodView):
    @auth_required(blp, Role.ADMIN)
    @idempotent(blp)
    @blp.arguments(AdjustmentSchema())
    @blp.response(201, AdjustmentResultSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such user")
    def post(self, data):
        """Grant or remove coins, as a ledger transaction carrying the reason and the admin"""
        target = get_by_username(data["username"])
        admin = current_user()
        try:
            # Retries are answered by the Idempotency-Key layer, whose record commits with
            # this booking; each executed request is a new adjustment.
            booked = adjust_coins(
                target.id,
                data["coins"],
                source_ref=str(uuid.uuid4()),
                reason=data["reason"],
                admin_id=admin.id,
            )
        except InsufficientFunds:
            abort(409, message=f"{target.username} has fewer than {-data['coins']} coins.")
        return {
            "transaction_id": booked.transaction_id,
            "username": target.username,
            "coins": data["coins"],
            "reason": data["reason"],
            "wallet": wallet(target.id),
        }


@blp.route("/reconciliation")
class Reconciliation(MethodView):
    @auth_required(blp, Role.ADMIN)
    @blp.response(200, ReconciliationSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No reconciliation has run yet")
    def get(self):
        """The last reconciliation: accounts checked and any mismatches"""
        run = latest_run()
        if run is None:
            abort(404, message="No reconciliation has run yet.")
        return run


@blp.route("/gift-types")
class GiftTypes(MethodView):
    @auth_required(blp, Role.ADMIN)
    @blp.response(200, CatalogSchema)
    def get(self):
        """The whole gift catalog, retired types included"""
        return {"items": catalog.catalog(include_retired=True)}

    @auth_required(blp, Role.ADMIN)
    @blp.arguments(CatalogEditSchema())
    @blp.response(200, CatalogSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="An id that is not in the catalog")
    @blp.alt_response(409, schema=ErrorSchema, description="Two gift types with one name")
    def put(self, data):
        """Replace the catalog: listed types created or updated, the others retired"""
        try:
            return {"items": catalog.replace_catalog(data["items"])}
        except IntegrityError:
            abort(409, message="Another gift type already has one of these names.")
