"""Tests of the TinyFish REST client (``tinyfish_mcp.upstream``)."""
