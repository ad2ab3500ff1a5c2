"""Benchmarks for `make bench`: each module measures one path and returns table rows."""
