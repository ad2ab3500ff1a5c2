"""HTTP edge of the control plane: routers, authentication and error bodies."""
