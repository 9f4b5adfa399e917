"""Wire format only: pydantic models whose field names match the upstream server's JSON."""
