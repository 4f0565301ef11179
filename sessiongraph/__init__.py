"""sessiongraph: the service shell (settings, database, app, auth, command line)."""
