"""Fixtures for the integration tests: a running shop API (`shop`)."""

from tests.integrations.shop_fixtures import shop

__all__ = ["shop"]
