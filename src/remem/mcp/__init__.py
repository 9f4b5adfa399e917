"""The MCP server: the upstream server's ten tools over the same services as the REST API."""
