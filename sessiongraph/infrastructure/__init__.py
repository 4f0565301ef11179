"""The bottom of the house: what the rules need from the outside world (settings, database,
clock, broker, scheduler, tokens, rate-limit buckets, logs and metrics). Imports no other
part of sessiongraph."""

# Imported first, so that every zone the service builds comes from the pinned tzdata.
from sessiongraph.infrastructure import zones as zones
