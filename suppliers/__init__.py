"""Supplier dialects: adapters that submit, readers that take receipt pushes, and simulators."""
