"""Dagster definitions: resources, the asset graph, its checks and the daily schedule."""
