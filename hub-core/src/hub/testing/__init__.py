"""Test kits for hub and its plugins (need pytest and hypothesis)."""
