"""sessiongraph: the GraphQL service learning platforms run their sessions on.

One import root, five layers; each imports only the layers below it (import-linter's
contracts in pyproject.toml hold it in CI):

    sessiongraph.server          the ASGI app, GraphQL over HTTP, persisted documents,
                                 the subscription handover, request limits, the command line
    sessiongraph.demo | .migrations   demo data; Alembic migrations
    sessiongraph.schema          (folder schema/) the GraphQL types and root fields
    sessiongraph.resolvers       (folder resolvers/) rules, permissions, loaders
    sessiongraph.models          (folder models/) tables and the pure rules on their columns
    sessiongraph.infrastructure  settings, database, clock, broker, scheduler, tokens,
                                 rate-limit buckets, logs and metrics

sessiongraph.clients (folder clients/) is what the client apps send; it imports nothing
of the service.
"""
