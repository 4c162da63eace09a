"""An MCP server for the MCP tests, run in its own process over stdio or Streamable HTTP.

    python mcp_weather_server.py stdio
    python mcp_weather_server.py http PORT

With ``AGENTEL_STORE`` set it records its spans there through ``agentel.sdk.configure()``,
as a server deployed with agentel would.
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

if os.environ.get("AGENTEL_STORE"):
    import agentel.sdk

    agentel.sdk.configure(service_name="weather-server", instrument=["mcp"])

server = MCPServer("weather-server")


@server.tool()
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"14C and light rain in {city}"


@server.tool()
def flaky(city: str) -> str:
    """A tool that always fails."""
    raise ValueError(f"no station near {city}")


@server.resource("notes://today")
def today() -> str:
    """Today's notes."""
    return "pack an umbrella"


@server.prompt()
def forecast(city: str) -> str:
    """A prompt asking for a forecast."""
    return f"What is the forecast for {city}?"


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
