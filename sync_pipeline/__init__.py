"""Sync the DummyJSON product catalog into a Medusa v2 store, as a Dagster asset graph."""
