"""The domain: what memory means, with no HTTP and no Redis syntax."""
