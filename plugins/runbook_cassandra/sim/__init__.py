"""The session store's simulated estate: Cassandra hosts, Kask pods, confctl (stdlib only)."""
