"""Converters of real data sets shipped by package registries (see each module)."""
