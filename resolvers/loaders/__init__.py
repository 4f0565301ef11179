"""Per-request DataLoaders, one module per area; `base` holds the registry."""
