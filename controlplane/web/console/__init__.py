"""The operator console: server-rendered pages over the same code the API uses."""

from controlplane.web.console.inboxes import RunningFakes, ShownFake, running_fakes
from controlplane.web.console.pages import router

__all__ = ["RunningFakes", "ShownFake", "router", "running_fakes"]
