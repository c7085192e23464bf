"""Local tooling, not the product: the local Medusa + PostgreSQL (``stack``), a DummyJSON-compatible
test server and catalog generator (``dummyjson_server``), and ``dagster dev`` driven for the
door tests and ``bench.doors`` (``dagster``). The code location imports nothing from here."""
