"""LangGraph graphs: the router and the workflow engine."""
