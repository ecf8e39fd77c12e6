"""Shared test settings: Hypothesis profiles (``ci`` is derandomised, so CI is reproducible)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=200)
settings.register_profile(
    "ci", max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
