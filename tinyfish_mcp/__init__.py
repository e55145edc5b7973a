"""tinyfish-mcp: an MCP server for the TinyFish web-agent platform."""

__all__ = ["__version__"]

__version__ = "0.1.0"
