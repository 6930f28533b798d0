"""The routes' tools and the one runner that authorises, audits and invokes them.

Tools never check policy while running and cannot be invoked around the runner:
:meth:`Tool.invoke` accepts only a one-shot :class:`Ticket` the runner issues after the
tool's policy returned a :class:`Permit`.
"""

from crossroads.tools._runner import Permit, Ticket, Tool, ToolResult, ToolRunner, registered_tools

__all__ = ["Permit", "Ticket", "Tool", "ToolResult", "ToolRunner", "registered_tools"]
