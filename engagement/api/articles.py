"""Article endpoints: summary, view beacon, reactions, batch counts and trending."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from engagement import bots, metrics
from engagement.api import caching
from engagement.api.common import (
    EngagementBlueprint,
    current_reader,
    participant,
    keyring,
    now,
    reads,
    settings,
    single_statement_writes,
    view_counter,
    writes,
)
from engagement.api.ratelimits import limit, target_allowance
from engagement.schemas.engagement import (
    ArticleSummarySchema,
    CountsQuerySchema,
    CountsSchema,
    ReactionStateSchema,
    TrendingQuerySchema,
    TrendingSchema,
    ViewBeaconSchema,
    ViewCountSchema,
    counts_json,
)
from engagement.services import article_stats, reactions, views
from engagement.services.articles import register_article
from engagement.services.article_stats import ArticleSummary, TrendingEntry
from engagement.services.reactions import ReactionState

blp = EngagementBlueprint(
    "articles", __name__, url_prefix="/api/v1", description="Articles, views, reactions and trending"
)

ARTICLE = "/articles/<article_key:key>"
REACTION = ARTICLE + "/reactions/<string:kind>"


@blp.route(ARTICLE, methods=["GET"])
@blp.response(200, ArticleSummarySchema)
def get_article(key: str) -> tuple[ArticleSummary, dict[str, str]]:
    """An article's counters; 404 for an article nobody has touched."""
    cache_headers = caching.validate_articles([key])
    summary = article_stats.article_summary(reads(), settings(), article_key=key, now=now(), counter=view_counter())
    return summary, cache_headers


@blp.route(ARTICLE + "/views", methods=["POST"])
@blp.for_the_reader()
@blp.arguments(ViewBeaconSchema(), required=False)  # a beacon may send no body at all
@blp.response(202, ViewCountSchema)
@limit("views")
@single_statement_writes
def record_view(page: dict[str, Any], key: str) -> dict[str, int]:
    """View beacon: counted once per reader per window; bots, prefetches and views beyond
    what one address may add to the article are not counted. The site's own pages may
    name the article (url, title) on the way: first write wins."""
    reader = current_reader()
    automation = bots.automation(reader.user_agent, request.headers, has_reader_token=reader.has_token)
    recorded = views.record_view(
        writes(), keyring(), settings(),
        article_key=key, reader=reader, automated=automation is not None,
        now=now(), counter=view_counter(), allowance=target_allowance("views", key, reader),
    )
    metrics.note_outcome(automation or recorded.outcome.value)
    if page.get("url"):
        register_article(
            writes(), key=key, url=page["url"], title=page.get("title"),
            request_origin=request.headers.get("Origin"), site_origins=current_app.config["CORS_ORIGINS"], now=now(),
        )
    return {"views": recorded.views}


@blp.route(ARTICLE + "/reactions", methods=["GET"])
@blp.for_the_reader()
@blp.response(200, ReactionStateSchema)
def get_reactions(key: str) -> tuple[ReactionState, dict[str, str]]:
    """Reaction counts per kind and the kinds this reader chose."""
    cache_headers = caching.validate_articles([key], per_reader=True)
    return reactions.reactions(reads(), settings(), article_key=key, reader=current_reader()), cache_headers


@blp.route(REACTION, methods=["PUT"])
@blp.for_the_reader()
@blp.response(200, ReactionStateSchema)
@limit("reactions")
@single_statement_writes
def add_reaction(key: str, kind: str) -> ReactionState:
    """React to the article (idempotent); 404 for a kind that is not configured."""
    reader = participant()
    return reactions.add_reaction(
        writes(), settings(), article_key=key, kind=kind, reader=reader, now=now(),
        allowance=target_allowance("reactions", key, reader),
    )


@blp.route(REACTION, methods=["DELETE"])
@blp.for_the_reader()
@blp.response(200, ReactionStateSchema)
@limit("reactions")
@single_statement_writes
def remove_reaction(key: str, kind: str) -> ReactionState:
    """Withdraw your reaction (idempotent); 404 for a kind that is not configured."""
    return reactions.remove_reaction(
        writes(), settings(), article_key=key, kind=kind, reader=participant(), now=now()
    )


@blp.route("/counts", methods=["GET"])
@blp.arguments(CountsQuerySchema(), location="query")
@blp.response(200, CountsSchema)
def get_counts(query: dict[str, Any]) -> Response:
    """Views, comments and reactions for up to 100 articles (zeros for unknown keys)."""
    counts = article_stats.article_counts(reads(), settings(), article_keys=query["articles"], counter=view_counter())
    return caching.validated_on_body(counts_json(counts), query)


@blp.route("/trending", methods=["GET"])
@blp.arguments(TrendingQuerySchema(), location="query")
@blp.response(200, TrendingSchema)
def get_trending(query: dict[str, Any]) -> tuple[dict[str, list[TrendingEntry]], dict[str, str]]:
    """Articles ranked by weighted engagement in the window, newer activity weighing more."""
    articles = article_stats.trending_articles(
        reads(), settings(), window=query["window"], limit=query["limit"], now=now(), counter=view_counter()
    )
    return {"articles": articles}, caching.validate_result(articles, query)
