"""The caller's wallet and ledger history."""

from __future__ import annotations

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.schemas import PageArgsSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.api.wallet.schemas import LedgerPageSchema, WalletSchema
from mylivelinks.ledger.history import user_entries
from mylivelinks.ledger.wallet import wallet

blp = Blueprint("wallet", __name__, url_prefix="/me", description="Coins, earnings and history")


@blp.route("/wallet")
class MyWallet(MethodView):
    @auth_required(blp)
    @blp.response(200, WalletSchema)
    def get(self):
        """Spendable coins, earnings, debt and whether spending is frozen"""
        return wallet(current_user().id)


@blp.route("/ledger")
class MyLedger(MethodView):
    @auth_required(blp)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, LedgerPageSchema)
    def get(self, args):
        """The caller's ledger entries, newest first"""
        page = user_entries(current_user().id, **args)
        return {"items": page.items, "next_cursor": page.next_cursor}
