"""The ledger: balanced transfers, replays, bounds, database guarantees, concurrency.

Coins are spent the way production spends them, by sending gifts (`send_gift`, whose one
statement books through `ledger.booking.book_with`), in both of the gift's transaction
modes; credits, take-backs and adjustments through `ledger.wallet`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from psycopg.errors import NumericValueOutOfRange
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, DBAPIError

from mylivelinks.extensions import db
from mylivelinks.ledger.accounts import (
    USER_ACCOUNT_KINDS,
    open_user_accounts,
    platform_account_id,
    user_accounts,
)
from mylivelinks.ledger.booking import Posting, Transfer, TransferKind, book
from mylivelinks.ledger.errors import (
    AmountOutOfRange,
    InsufficientFunds,
    ReplayMismatch,
    SpendingFrozen,
    UnbalancedTransfer,
)
from mylivelinks.ledger.wallet import adjust_coins, credit_coins, take_back_coins, wallet
from mylivelinks.models import GiftType, Profile
from mylivelinks.models.ledger import AccountKind
from mylivelinks.services.gifts.sending import SentGift, send_gift
from mylivelinks.transaction import commit_each_statement
from tests.money import assert_ledger_consistent

ADMIN_ID = uuid.UUID(int=1)


def new_profile(name: str) -> Profile:
    profile = Profile(username=name, email=f"{name}@example.com")
    db.session.add(profile)
    db.session.flush()
    return profile


def fund(profile: Profile, coins: int) -> None:
    credit_coins(
        profile.id,
        coins,
        source_kind=AccountKind.ADJUSTMENTS,
        kind=TransferKind.ADJUSTMENT,
        source_ref=str(uuid.uuid4()),
    )


def committed_fan(app, name: str, *, coins: int) -> uuid.UUID:
    """A profile holding `coins`, committed for tests on separate connections."""
    with app.app_context():
        fan = new_profile(name)
        fund(fan, coins)
        db.session.commit()
        return fan.id


def spend(sender_id: uuid.UUID, coins: int, recipient: str, mode: str) -> SentGift:
    """Spend `coins` as production does: `coins` Roses (1 coin each) to `recipient`, in
    `mode`; the one-transaction mode commits only on a real session."""
    if mode == "autocommit":
        db.session.commit()  # a request starts with no transaction open
        commit_each_statement()
    rose = db.session.scalar(select(GiftType.id).where(GiftType.name == "Rose"))
    assert rose is not None
    sent = send_gift(
        sender_id, rose, coins, room=None, position=None, recipient=recipient, streamer_percent=70
    )
    if mode == "autocommit":  # the statement committed as it ran
        assert db.session.connection().connection.driver_connection.autocommit
    if db.session.get_bind() is db.engine:  # as the request boundary does
        db.session.commit()
    return sent


def revenue_balance() -> int:
    return db.session.scalar(
        text("SELECT sum(balance) FROM ledger_accounts WHERE kind = :kind"),
        {"kind": AccountKind.PLATFORM_REVENUE},
    )


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(app):
    yield
    assert_ledger_consistent(app)


def test_a_gift_moves_value_exactly_in_either_mode(app, main_room, gift_mode):
    with app.app_context():
        fan, streamer = new_profile("ledger_fan"), new_profile("ledger_star")
        fund(fan, 10)
        db.session.commit()
        revenue_before = revenue_balance()
        sent = spend(fan.id, 3, "ledger_star", gift_mode)
        assert sent.wallet.coin_balance == 7 and wallet(fan.id).coin_balance == 7
        assert wallet(streamer.id).earnings_balance_centicoins == 210
        assert revenue_balance() - revenue_before == 90


def test_an_adjustment_replayed_is_a_noop_and_with_other_amounts_refused(app):
    with app.app_context():
        fan = new_profile("ledger_adjusted")
        fund(fan, 10)
        first = adjust_coins(fan.id, -3, source_ref="a-1", reason="test", admin_id=ADMIN_ID)
        again = adjust_coins(fan.id, -3, source_ref="a-1", reason="test", admin_id=ADMIN_ID)
        assert again.replayed and again.transaction_id == first.transaction_id
        assert wallet(fan.id).coin_balance == 7
        with pytest.raises(ReplayMismatch):
            adjust_coins(fan.id, -4, source_ref="a-1", reason="test", admin_id=ADMIN_ID)
        assert wallet(fan.id).coin_balance == 7


@pytest.mark.parametrize(
    "amounts", [[100, -99], [100], [0, 0], [50, -50.0]], ids=["unbalanced", "one", "zero", "float"]
)
def test_unbalanced_or_malformed_transfers_are_refused(app, amounts):
    with app.app_context():
        accounts = [
            platform_account_id(AccountKind.ADJUSTMENTS),
            platform_account_id(AccountKind.PLATFORM_REVENUE),
        ]
        with pytest.raises(UnbalancedTransfer):
            Transfer.of(
                [Posting(a, amount) for a, amount in zip(accounts, amounts, strict=False)],
                kind=TransferKind.ADJUSTMENT,
                source_ref="bad",
            )


def test_insufficient_funds_writes_nothing_and_keeps_the_session_usable(app, main_room, gift_mode):
    with app.app_context():
        fan, _ = new_profile("ledger_poor"), new_profile("ledger_poor_star")
        fund(fan, 5)
        db.session.commit()
        with pytest.raises(InsufficientFunds, match="costs 6 coins and you have 5"):
            spend(fan.id, 6, "ledger_poor_star", gift_mode)
        assert wallet(fan.id).coin_balance == 5
        spend(fan.id, 5, "ledger_poor_star", gift_mode)
        assert wallet(fan.id).coin_balance == 0


def test_a_balance_past_the_database_range_is_refused_with_nothing_written(app):
    with app.app_context():
        fan = new_profile("ledger_whale")
        open_user_accounts(fan.id)
        coins = user_accounts(fan.id).coins
        huge = [
            Posting(platform_account_id(AccountKind.ADJUSTMENTS), -(2**62)),
            Posting(coins, 2**62),
        ]
        book(Transfer.of(huge, kind=TransferKind.ADJUSTMENT, source_ref="whale-1"))
        with pytest.raises(AmountOutOfRange), db.session.begin_nested():
            book(Transfer.of(huge, kind=TransferKind.ADJUSTMENT, source_ref="whale-2"))
        assert wallet(fan.id).coin_balance == 2**62 // 100


def test_a_data_error_that_is_not_about_amounts_is_not_called_out_of_range(app):
    with app.app_context():
        fan, admin = new_profile("ledger_nul"), new_profile("ledger_nul_admin")
        with pytest.raises(DataError) as raised, db.session.begin_nested():
            adjust_coins(fan.id, 5, source_ref="nul-1", reason="a\x00b", admin_id=admin.id)
        assert not isinstance(raised.value.orig, NumericValueOutOfRange)
        assert wallet(fan.id).coin_balance == 0


def test_take_back_more_than_remains_books_debt_freezes_and_next_credit_repays(
    app, main_room, gift_mode
):
    with app.app_context():
        fan, _ = new_profile("ledger_debtor"), new_profile("ledger_debtor_star")
        fund(fan, 10)
        db.session.commit()
        spend(fan.id, 8, "ledger_debtor_star", gift_mode)
        take_back_coins(fan.id, 10, kind=TransferKind.PURCHASE_REVERSAL, source_ref="r-1")
        db.session.commit()
        state = wallet(fan.id)
        assert (state.coin_balance, state.debt_coins, state.frozen) == (0, 8, True)
        with pytest.raises(SpendingFrozen):
            spend(fan.id, 1, "ledger_debtor_star", gift_mode)
        purchase = TransferKind.PURCHASE
        credit_coins(
            fan.id, 5, source_kind=AccountKind.PURCHASES_CLEARING, kind=purchase, source_ref="p-1"
        )
        assert (wallet(fan.id).coin_balance, wallet(fan.id).debt_coins) == (0, 3)
        credit_coins(
            fan.id, 5, source_kind=AccountKind.PURCHASES_CLEARING, kind=purchase, source_ref="p-2"
        )
        state = wallet(fan.id)
        assert (state.coin_balance, state.debt_coins, state.frozen) == (2, 0, False)


def test_the_database_refuses_to_change_entries_and_transactions(app):
    with app.app_context():
        fan = new_profile("ledger_tamper")
        fund(fan, 1)
        for statement in (
            "UPDATE ledger_entries SET amount = amount * 2",
            "DELETE FROM ledger_entries",
            "UPDATE ledger_transactions SET kind = 'other'",
            "DELETE FROM ledger_transactions",
        ):
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(text(statement))


def test_the_database_refuses_a_negative_coin_balance(app):
    with app.app_context():
        fan = new_profile("ledger_negative")
        accounts = open_user_accounts(fan.id)
        with pytest.raises(DBAPIError, match="nonnegative"), db.session.begin_nested():
            db.session.execute(
                text("UPDATE ledger_accounts SET balance = -100 WHERE id = :id"),
                {"id": accounts.coins},
            )


@pytest.mark.real_session
def test_the_database_refuses_to_commit_an_unbalanced_transaction(app):
    with app.app_context():
        fan = Profile(username="ledger_raw", email="ledger_raw@example.com")
        db.session.add(fan)
        db.session.commit()
        accounts = open_user_accounts(fan.id)
        db.session.commit()
        tx = uuid.uuid4()
        db.session.execute(
            text(
                "INSERT INTO ledger_transactions (id, kind, source_ref, fingerprint) "
                "VALUES (:id, 'raw', 'raw-1', 'x')"
            ),
            {"id": tx},
        )
        db.session.execute(
            text(
                "INSERT INTO ledger_entries (transaction_id, account_id, amount) "
                "VALUES (:t, :a, 100)"
            ),
            {"t": tx, "a": accounts.coins},
        )
        with pytest.raises(DBAPIError, match="does not balance"):
            db.session.commit()
        db.session.rollback()


@pytest.mark.real_session
@pytest.mark.parametrize("mode", ["autocommit", "one_transaction"])
def test_50_concurrent_gifts_of_10_from_100_exactly_10_succeed(app, main_room, mode):
    fan_id = committed_fan(app, "ledger_race", coins=100)
    with app.app_context():
        new_profile("ledger_race_star")
        db.session.commit()
        revenue_before = revenue_balance()
    barrier = Barrier(50)

    def debit(_: int) -> str:
        with app.app_context():
            barrier.wait()
            try:
                spend(fan_id, 10, "ledger_race_star", mode)
                return "ok"
            except InsufficientFunds:
                db.session.rollback()
                return "short"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = Counter(pool.map(debit, range(50)))
    assert outcomes == {"ok": 10, "short": 40}
    with app.app_context():
        assert wallet(fan_id).coin_balance == 0
        assert revenue_balance() - revenue_before == 100 * 30


def test_a_user_without_accounts_has_nothing_to_spend(app, main_room):
    with app.app_context():
        stranger, _ = new_profile("ledger_stranger"), new_profile("ledger_stranger_star")
        with pytest.raises(InsufficientFunds):
            spend(stranger.id, 1, "ledger_stranger_star", "one_transaction")


def test_a_credit_replayed_with_another_amount_is_refused(app):
    with app.app_context():
        fan = new_profile("ledger_replayed")
        buy = {
            "source_kind": AccountKind.PURCHASES_CLEARING,
            "kind": TransferKind.PURCHASE,
            "source_ref": "b",
        }
        credit_coins(fan.id, 5, **buy)
        again = credit_coins(fan.id, 5, **buy)
        assert again.replayed
        with pytest.raises(ReplayMismatch):
            credit_coins(fan.id, 700, **buy)
        assert wallet(fan.id).coin_balance == 5


def test_the_database_refuses_to_truncate_the_ledger(app):
    with app.app_context():
        for table in ("ledger_entries", "ledger_transactions"):
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(text(f"TRUNCATE {table} CASCADE"))


@pytest.mark.real_session
def test_concurrent_duplicates_of_one_adjustment_book_once_and_replay(app):
    fan_id = committed_fan(app, "ledger_dupe", coins=10)
    barrier = Barrier(8)

    def duplicate(_: int) -> bool:
        with app.app_context():
            barrier.wait()
            result = adjust_coins(fan_id, -10, source_ref="same", reason="test", admin_id=ADMIN_ID)
            db.session.commit()
            return result.replayed

    with ThreadPoolExecutor(max_workers=8) as pool:
        replays = Counter(pool.map(duplicate, range(8)))
    assert replays == {False: 1, True: 7}
    with app.app_context():
        assert wallet(fan_id).coin_balance == 0


@pytest.mark.real_session
def test_a_users_accounts_opened_by_many_transactions_at_once_never_fail(app):
    # Two inserts that both pass ON CONFLICT's check before either commits collide on
    # whichever unique index they reach first; only conflicts on the arbiter are ignored.
    rounds, openers = 30, 8
    failures: list[str] = []
    for round_number in range(rounds):
        with app.app_context():
            profile_id = new_profile(f"ledger_open_{round_number}").id
            db.session.commit()
        barrier = Barrier(openers)

        def open_accounts(
            _: int, profile_id: uuid.UUID = profile_id, barrier: Barrier = barrier
        ) -> None:
            with app.app_context():
                try:
                    barrier.wait()
                    open_user_accounts(profile_id)
                    db.session.commit()
                except DBAPIError as exc:
                    failures.append(str(exc.orig))
                finally:
                    db.session.remove()

        with ThreadPoolExecutor(max_workers=openers) as pool:
            list(pool.map(open_accounts, range(openers)))
    assert failures == []
    with app.app_context():
        opened = db.session.scalar(
            text("SELECT count(*) FROM ledger_accounts WHERE owner_id IS NOT NULL")
        )
        assert opened == rounds * len(USER_ACCOUNT_KINDS)
