"""Reports of messages or users: filed by users, queued for moderators, resolved with an
outcome that lands in the audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from mylivelinks.extensions import db
from mylivelinks.models import ChatMessage, Profile, Report, Room
from mylivelinks.models.chat import ReportOutcome, ReportStatus, ReportTarget
from mylivelinks.pagination import Page, keyset_page
from mylivelinks.services.errors import Conflict, InvalidInput, NotFound
from mylivelinks.services.moderation.actions import record_action


@dataclass(frozen=True)
class Filed:
    """A report, and whether this call filed it (False: the reporter's open one stood)."""

    report: Report
    created: bool


@dataclass(frozen=True)
class ReportEntry:
    """A report as moderators see it: who filed it and what it is about, as it is now."""

    report: Report
    reporter: Profile | None
    message: ChatMessage | None
    message_author: Profile | None
    room_slug: str | None
    user: Profile | None


def file_report(
    reporter: Profile, target_type: ReportTarget, target_id: uuid.UUID, reason: str
) -> Filed:
    """File a report of a message or a user; the reporter's report of the same target that
    is still open stands instead of a new one. NotFound when the target does not exist."""
    model = ChatMessage if target_type == ReportTarget.MESSAGE else Profile
    if db.session.get(model, target_id) is None:
        raise NotFound(f"No such {target_type}.")
    if target_type == ReportTarget.USER and target_id == reporter.id:
        raise InvalidInput("You cannot report yourself.", field="target_id")
    inserted = db.session.scalar(
        insert(Report)
        .values(
            id=uuid.uuid4(),
            reporter_id=reporter.id,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
        )
        .on_conflict_do_nothing(
            index_elements=["reporter_id", "target_type", "target_id"],
            index_where=Report.status == ReportStatus.OPEN,
        )
        .returning(Report.id)
    )
    if inserted is not None:
        return Filed(db.session.get_one(Report, inserted), created=True)
    standing = db.session.scalar(
        select(Report).where(
            Report.reporter_id == reporter.id,
            Report.target_type == target_type,
            Report.target_id == target_id,
            Report.status == ReportStatus.OPEN,
        )
    )
    if standing is None:  # resolved in between: file it afresh
        return file_report(reporter, target_type, target_id, reason)
    return Filed(standing, created=False)


def report_queue(status: ReportStatus, *, limit: int, cursor: str | None) -> Page:
    """Reports in `status`: open ones oldest first (a queue), resolved ones newest first;
    items are ReportEntry."""
    page = keyset_page(
        select(Report).where(Report.status == status),
        [Report.created_at, Report.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.Report.created_at, row.Report.id),
        ascending=status == ReportStatus.OPEN,
    )
    return Page(entries([row.Report for row in page.items]), page.next_cursor)


def entries(reports: list[Report]) -> list[ReportEntry]:
    """The reports with their reporters and targets, loaded in three queries."""
    message_ids = [r.target_id for r in reports if r.target_type == ReportTarget.MESSAGE]
    messages = {
        row.ChatMessage.id: row
        for row in db.session.execute(
            select(ChatMessage, Room.slug)
            .join(Room, Room.id == ChatMessage.room_id)
            .where(ChatMessage.id.in_(message_ids))
        )
    }
    people_ids = {r.reporter_id for r in reports} | {
        r.target_id for r in reports if r.target_type == ReportTarget.USER
    }
    people_ids |= {row.ChatMessage.author_id for row in messages.values()}
    people = {
        p.id: p for p in db.session.scalars(select(Profile).where(Profile.id.in_(people_ids)))
    }
    listed = []
    for report in reports:
        found = messages.get(report.target_id)
        message = found.ChatMessage if found else None
        listed.append(
            ReportEntry(
                report=report,
                reporter=people.get(report.reporter_id) if report.reporter_id else None,
                message=message,
                message_author=people.get(message.author_id)
                if message and message.author_id
                else None,
                room_slug=found.slug if found else None,
                user=people.get(report.target_id)
                if report.target_type == ReportTarget.USER
                else None,
            )
        )
    return listed


def resolve(
    report_id: uuid.UUID,
    moderator: Profile,
    outcome: ReportOutcome,
    note: str | None,
    now: datetime,
) -> ReportEntry:
    """Resolve an open report with the moderator's outcome, recorded in the audit trail;
    NotFound for no such report, Conflict when it is already resolved."""
    report = db.session.get(Report, report_id, with_for_update=True)
    if report is None:
        raise NotFound("No such report.")
    if report.status != ReportStatus.OPEN:
        raise Conflict(f"This report was already resolved ({report.outcome}).")
    report.status, report.outcome, report.resolution_note = ReportStatus.RESOLVED, outcome, note
    report.resolved_by, report.resolved_at = moderator.id, now
    (entry,) = entries([report])
    record_action(
        moderator,
        "resolve_report",
        room=db.session.scalar(select(Room).where(Room.slug == entry.room_slug))
        if entry.room_slug
        else None,
        target=entry.user or entry.message_author,
        report_id=str(report.id),
        target_type=str(report.target_type),
        target_id=str(report.target_id),
        outcome=str(outcome),
        note=note,
    )
    db.session.flush()
    return entry
