"""Agents: the failure-mode classifier, the chat agent and the workflow agent."""
