"""The PostgreSQL backend (#21): one history for a fleet of clusters in a server the organisation already runs."""
