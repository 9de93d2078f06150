"""/admin/dlq: dead-lettered commands — list, inspect, retry once, discard (audited)."""

from __future__ import annotations

import dataclasses

from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from core.admin.dead_letters import DeadLetter, DeadLetterAdmin
from core.rbac import Permission
from web.resources import get_resources
from web.schemas.admin_dlq import DeadLetterOut, DeadLetterPage, DlqQuery, DlqRetryOut
from web.security import actor, require

blueprint = Blueprint("admin_dlq", __name__, url_prefix="/admin/dlq")


def _service() -> DeadLetterAdmin:
    return get_resources().services.dead_letters


def _out(letter: DeadLetter) -> DeadLetterOut:
    fields = {f.name: getattr(letter, f.name) for f in dataclasses.fields(letter)}
    retry = letter.retry
    fields["retry"] = None if retry is None else DlqRetryOut(
        subject=retry.subject, msg_id=retry.msg_id, command_seq=retry.command_seq,
        duplicate=retry.duplicate, actor_id=retry.actor_id, created_at=retry.created_at)
    return DeadLetterOut(**fields)


@blueprint.get("")
@require(Permission.ADMIN_SYSTEM)
@validate_querystring(DlqQuery)
@validate_response(DeadLetterPage)
async def list_dead_letters(query_args: DlqQuery) -> DeadLetterPage:
    """Parked commands, oldest first."""
    page = await _service().page(limit=query_args.limit, cursor=query_args.cursor)
    return DeadLetterPage(items=[_out(d) for d in page.items], next_cursor=page.next_cursor)


@blueprint.get("/<int:seq>")
@require(Permission.ADMIN_SYSTEM)
@validate_response(DeadLetterOut)
async def get_dead_letter(seq: int) -> DeadLetterOut:
    """One parked command."""
    return _out(await _service().get(seq))


@blueprint.post("/<int:seq>/retry")
@require(Permission.ADMIN_SYSTEM)
@validate_response(DeadLetterOut)
async def retry_dead_letter(seq: int) -> DeadLetterOut:
    """Publish the command again, once (409 if it was retried); the executor continues an
    existing order instead of making a second one. Audited."""
    return _out(await _service().retry(actor(), seq))


@blueprint.delete("/<int:seq>")
@require(Permission.ADMIN_SYSTEM)
async def discard_dead_letter(seq: int) -> tuple[str, int]:
    """Delete a parked command (its content is kept in the audit log)."""
    await _service().discard(actor(), seq)
    return "", 204
