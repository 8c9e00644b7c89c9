"""Comment votes."""
from __future__ import annotations

from typing import Any


from engagement.api.common import EngagementBlueprint, now, participant, settings, single_statement_writes, writes
from engagement.api.ratelimits import limit, target_allowance
from engagement.schemas.engagement import VoteSchema, VoteStateSchema
from engagement.services import votes
from engagement.services.votes import VoteState

blp = EngagementBlueprint("votes", __name__, url_prefix="/api/v1", description="Comment votes")


@blp.route("/comments/<id:comment_id>/vote", methods=["POST"])
@blp.for_the_reader()
@blp.arguments(VoteSchema())
@blp.response(200, VoteStateSchema)
@limit("votes")
@single_statement_writes
def vote(body: dict[str, Any], comment_id: int) -> VoteState:
    """Vote 1 or -1 on a public comment, or 0 to withdraw; not on your own comment (403)."""
    reader = participant()
    return votes.vote(
        writes(), settings(), comment_id=comment_id, value=body["value"], reader=reader, now=now(),
        allowance=target_allowance("votes", str(comment_id), reader),
    )
