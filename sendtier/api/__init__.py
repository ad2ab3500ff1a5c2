"""The send API: validates sends, applies opt-outs and rate limits, and hands them to the bus."""

from sendtier.api.app import create_api_app

__all__ = ["create_api_app"]
