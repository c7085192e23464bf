"""``dagster dev`` on the project's code location, its GraphQL API, and the UI driven in
Chromium: what the door tests and ``bench.doors`` share."""
