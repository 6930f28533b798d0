"""LangGraph graphs: the router and the workflow engine.

>>> from crossroads.graphs import Workflow, WorkflowRunner
>>> runner = WorkflowRunner(app)                                     # doctest: +SKIP
>>> state = runner.start(Workflow.from_yaml("weekly.yaml"), carol, {"week": "2024-01-01"})
>>> runner.approve(state.run_id, "publish", carol).report            # doctest: +SKIP
"""

from crossroads.agents._workflow_spec import Workflow
from crossroads.graphs._workflow import RunState, WorkflowRunner
from crossroads.graphs._workflow_steps import WorkflowApp
from crossroads.graphs._workflow_store import RunRecord

__all__ = [
    "RunRecord",
    "RunState",
    "Workflow",
    "WorkflowApp",
    "WorkflowRunner",
]
