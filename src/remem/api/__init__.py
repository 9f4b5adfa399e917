"""HTTP interface: FastAPI app, thin routers that parse, call the core and answer."""
