"""The only package that speaks Redis: connections, keys, index schemas, queries, documents."""
