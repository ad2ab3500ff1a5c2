"""Faithful fakes of the notification services (WIRE.md), served on 127.0.0.1."""
