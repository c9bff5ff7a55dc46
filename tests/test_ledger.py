"""The ledger: balanced transfers, replays, bounds, database guarantees, concurrency."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mylivelinks.extensions import db
from mylivelinks.ledger.accounts import open_user_accounts, platform_account_id, user_accounts
from mylivelinks.ledger.errors import (
    AmountOutOfRange,
    InsufficientFunds,
    ReplayMismatch,
    SpendingFrozen,
    UnbalancedTransfer,
)
from mylivelinks.ledger.transfers import Posting, transfer
from mylivelinks.ledger.wallet import credit_coins, spend_coins, take_back_coins, wallet
from mylivelinks.models import Profile
from mylivelinks.models.ledger import ADJUSTMENTS, PLATFORM_REVENUE, PURCHASES_CLEARING
from tests.money import assert_ledger_consistent


def new_profile(name: str) -> Profile:
    profile = Profile(username=name, email=f"{name}@example.com")
    db.session.add(profile)
    db.session.flush()
    return profile


def fund(profile: Profile, coins: int) -> None:
    credit_coins(
        profile.id, coins, source_kind=ADJUSTMENTS, kind="test_fund", source_ref=str(uuid.uuid4())
    )


def committed_fan(app, name: str, *, coins: int) -> uuid.UUID:
    """A profile holding `coins`, committed for tests on separate connections."""
    with app.app_context():
        fan = new_profile(name)
        fund(fan, coins)
        db.session.commit()
        return fan.id


def revenue(coins: int) -> list[Posting]:
    return [Posting(platform_account_id(PLATFORM_REVENUE), coins * 100)]


@pytest.fixture(autouse=True)
def _ledger_balances_after_each_test(app):
    yield
    assert_ledger_consistent(app)


def test_transfer_moves_value_and_a_replay_is_a_noop(app):
    with app.app_context():
        fan = new_profile("ledger_fan")
        fund(fan, 10)
        first = spend_coins(fan.id, 3, recipients=revenue(3), kind="test_spend", source_ref="s-1")
        again = spend_coins(fan.id, 3, recipients=revenue(3), kind="test_spend", source_ref="s-1")
        assert again.replayed and again.transaction_id == first.transaction_id
        assert wallet(fan.id).coin_balance == 7
        with pytest.raises(ReplayMismatch):
            spend_coins(fan.id, 4, recipients=revenue(4), kind="test_spend", source_ref="s-1")
        assert wallet(fan.id).coin_balance == 7


@pytest.mark.parametrize(
    "amounts", [[100, -99], [100], [0, 0], [50, -50.0]], ids=["unbalanced", "one", "zero", "float"]
)
def test_unbalanced_or_malformed_transfers_are_refused(app, amounts):
    with app.app_context():
        accounts = [platform_account_id(ADJUSTMENTS), platform_account_id(PLATFORM_REVENUE)]
        with pytest.raises(UnbalancedTransfer):
            transfer(
                [Posting(a, amount) for a, amount in zip(accounts, amounts, strict=False)],
                kind="test",
                source_ref="bad",
            )


def test_insufficient_funds_writes_nothing_and_keeps_the_session_usable(app):
    with app.app_context():
        fan = new_profile("ledger_poor")
        fund(fan, 5)
        with pytest.raises(InsufficientFunds):
            spend_coins(fan.id, 6, recipients=revenue(6), kind="test_spend", source_ref="big")
        assert wallet(fan.id).coin_balance == 5
        spend_coins(fan.id, 5, recipients=revenue(5), kind="test_spend", source_ref="big")
        assert wallet(fan.id).coin_balance == 0


def test_a_balance_past_the_database_range_is_refused_with_nothing_written(app):
    with app.app_context():
        fan = new_profile("ledger_whale")
        open_user_accounts(fan.id)
        coins = user_accounts(fan.id).coins
        huge = [Posting(platform_account_id(ADJUSTMENTS), -(2**62)), Posting(coins, 2**62)]
        transfer(huge, kind="test_grant", source_ref="whale-1")
        with pytest.raises(AmountOutOfRange), db.session.begin_nested():
            transfer(huge, kind="test_grant", source_ref="whale-2")
        assert wallet(fan.id).coin_balance == 2**62 // 100


def test_take_back_more_than_remains_books_debt_freezes_and_next_credit_repays(app):
    with app.app_context():
        fan = new_profile("ledger_debtor")
        fund(fan, 10)
        spend_coins(fan.id, 8, recipients=revenue(8), kind="test_spend", source_ref="spent")
        take_back_coins(fan.id, 10, kind="test_reversal", source_ref="r-1")
        state = wallet(fan.id)
        assert (state.coin_balance, state.debt_coins, state.frozen) == (0, 8, True)
        with pytest.raises(SpendingFrozen):
            spend_coins(fan.id, 1, recipients=revenue(1), kind="test_spend", source_ref="frozen")
        credit_coins(
            fan.id, 5, source_kind=PURCHASES_CLEARING, kind="test_purchase", source_ref="p-1"
        )
        assert (wallet(fan.id).coin_balance, wallet(fan.id).debt_coins) == (0, 3)
        credit_coins(
            fan.id, 5, source_kind=PURCHASES_CLEARING, kind="test_purchase", source_ref="p-2"
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
def test_50_concurrent_debits_of_10_from_100_exactly_10_succeed(app):
    fan_id = committed_fan(app, "ledger_race", coins=100)
    barrier = Barrier(50)

    def debit(index: int) -> str:
        with app.app_context():
            barrier.wait()
            try:
                spend_coins(
                    fan_id,
                    10,
                    recipients=revenue(10),
                    kind="test_spend",
                    source_ref=f"race-{index}",
                )
                db.session.commit()
                return "ok"
            except InsufficientFunds:
                db.session.rollback()
                return "short"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = Counter(pool.map(debit, range(50)))
    assert outcomes == {"ok": 10, "short": 40}
    with app.app_context():
        assert wallet(fan_id).coin_balance == 0
        revenue_balance = db.session.scalar(
            text("SELECT balance FROM ledger_accounts WHERE id = :id"),
            {"id": platform_account_id(PLATFORM_REVENUE)},
        )
        assert revenue_balance == 100 * 100


def test_a_user_without_accounts_has_nothing_to_spend(app):
    with app.app_context():
        stranger = new_profile("ledger_stranger")
        with pytest.raises(InsufficientFunds):
            spend_coins(stranger.id, 1, recipients=revenue(1), kind="test_spend", source_ref="x")


def test_a_credit_replayed_with_another_amount_is_refused(app):
    with app.app_context():
        fan = new_profile("ledger_replayed")
        credit_coins(fan.id, 5, source_kind=PURCHASES_CLEARING, kind="test_buy", source_ref="b")
        again = credit_coins(
            fan.id, 5, source_kind=PURCHASES_CLEARING, kind="test_buy", source_ref="b"
        )
        assert again.replayed
        with pytest.raises(ReplayMismatch):
            credit_coins(
                fan.id, 700, source_kind=PURCHASES_CLEARING, kind="test_buy", source_ref="b"
            )
        assert wallet(fan.id).coin_balance == 5


def test_the_database_refuses_to_truncate_the_ledger(app):
    with app.app_context():
        for table in ("ledger_entries", "ledger_transactions"):
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(text(f"TRUNCATE {table} CASCADE"))


@pytest.mark.real_session
def test_concurrent_duplicates_of_one_spend_book_once_and_replay(app):
    fan_id = committed_fan(app, "ledger_dupe", coins=10)
    barrier = Barrier(8)

    def duplicate(_: int) -> bool:
        with app.app_context():
            barrier.wait()
            result = spend_coins(
                fan_id, 10, recipients=revenue(10), kind="test_spend", source_ref="same-gift"
            )
            db.session.commit()
            return result.replayed

    with ThreadPoolExecutor(max_workers=8) as pool:
        replays = Counter(pool.map(duplicate, range(8)))
    assert replays == {False: 1, True: 7}
    with app.app_context():
        assert wallet(fan_id).coin_balance == 0
