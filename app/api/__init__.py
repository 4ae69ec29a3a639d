"""The HTTP layer: thin routers per resource over the store and the domain packages."""

V1 = "/v1"  # every contract route lives under it; routers carry it so route templates (metrics) are whole
