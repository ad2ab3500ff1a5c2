"""The bundled SMS send tier: API validation, dispatch, persistence, receipt gateway, suppliers."""
