"""Readers flag comments for moderators."""
from __future__ import annotations

from typing import Any


from engagement.api.common import EngagementBlueprint, keyring, now, participant, settings, transactional
from engagement.api.ratelimits import limit
from engagement.extensions import db
from engagement.schemas.moderation import FlagAcceptedSchema, FlagCreateSchema
from engagement.services import flags as service

blp = EngagementBlueprint("flags", __name__, url_prefix="/api/v1", description="Reader flags")


@blp.route("/comments/<id:comment_id>/flags", methods=["POST"])
@blp.for_the_reader()
@blp.arguments(FlagCreateSchema())
@blp.response(202, FlagAcceptedSchema)
@limit("flags")
@transactional
def flag_comment(body: dict[str, Any], comment_id: int) -> dict[str, str]:
    """Flag a public comment; one flag per reader per comment (a repeat changes nothing)."""
    service.flag_comment(
        db.session, keyring(), settings(),
        comment_id=comment_id, reason=body["reason"], note=body.get("note"),
        reader=participant(), now=now(),
    )
    return {"status": "accepted"}
