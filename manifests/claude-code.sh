#!/usr/bin/env bash
# Register tinyfish-mcp with Claude Code (`claude mcp add`).
#
#   ./claude-code.sh          stdio: the installed `tinyfish-mcp` command (pip install tinyfish-mcp)
#   ./claude-code.sh uvx      stdio through uvx, nothing to install first
#   ./claude-code.sh http     a hosted server (tinyfish-mcp over HTTP with OAuth) at $TINYFISH_MCP_URL
#   ./claude-code.sh sandbox  the offline sandbox (built-in emulator, no key needed)
#
# The stdio modes read the key from TINYFISH_API_KEY in your shell and store it in
# Claude Code's configuration for this server. Add `--scope user` (or `project`)
# through CLAUDE_MCP_SCOPE to choose where it is stored (default: local).
set -euo pipefail

mode="${1:-stdio}"
scope="${CLAUDE_MCP_SCOPE:-local}"
url="${TINYFISH_MCP_URL:-http://127.0.0.1:8000/mcp}"

need_key() {
  if [[ -z "${TINYFISH_API_KEY:-}" ]]; then
    echo "Set TINYFISH_API_KEY first (get a key at https://agent.tinyfish.ai/api-keys)." >&2
    exit 1
  fi
}

case "$mode" in
  stdio)
    need_key
    claude mcp add --transport stdio --scope "$scope" --env TINYFISH_API_KEY="$TINYFISH_API_KEY" \
      tinyfish -- tinyfish-mcp
    ;;
  uvx)
    need_key
    claude mcp add --transport stdio --scope "$scope" --env TINYFISH_API_KEY="$TINYFISH_API_KEY" \
      tinyfish -- uvx tinyfish-mcp
    ;;
  http)
    # Claude Code runs the OAuth sign-in itself: use /mcp in Claude Code to authenticate.
    claude mcp add --transport http --scope "$scope" tinyfish "$url"
    ;;
  sandbox)
    claude mcp add --transport stdio --scope "$scope" tinyfish-sandbox -- tinyfish-mcp --sandbox
    ;;
  *)
    echo "usage: $0 [stdio|uvx|http|sandbox]" >&2
    exit 2
    ;;
esac
