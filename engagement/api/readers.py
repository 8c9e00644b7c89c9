"""Anonymous reader identities."""
from __future__ import annotations


from engagement.api.common import EngagementBlueprint, keyring, now
from engagement.api.ratelimits import limit
from engagement.schemas.readers import ReaderTokenSchema

blp = EngagementBlueprint("readers", __name__, url_prefix="/api/v1", description="Anonymous reader identity")


@blp.route("/readers", methods=["POST"])
@blp.response(201, ReaderTokenSchema)
@limit("readers")
def mint_reader_token() -> dict[str, str]:
    """Mint a signed anonymous reader token; send it back as X-Reader-Token."""
    return {"reader_token": keyring().mint_reader_token(now())}
