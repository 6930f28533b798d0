"""Language-model connectors and the gateway that governs them.

Connectors speak one wire protocol each (:class:`OpenAIChat` for OpenAI, Azure
OpenAI and compatible servers; :class:`AnthropicChat` for the Anthropic
Messages API) and know nothing of principals. :class:`LLMGateway` puts budgets,
rate limits, retries, fallback and audit around them. :class:`ScriptedLLM` is
the test double.
"""

from crossroads.connectors.llm._anthropic import AnthropicChat
from crossroads.connectors.llm._gateway import LLMGateway
from crossroads.connectors.llm._limits import RateLimit, TokenBudget
from crossroads.connectors.llm._openai import OpenAIChat
from crossroads.connectors.llm._scripted import ScriptedLLM, ScriptedReply
from crossroads.errors import LLMConnectionError

__all__ = [
    "AnthropicChat",
    "LLMConnectionError",
    "LLMGateway",
    "OpenAIChat",
    "RateLimit",
    "ScriptedLLM",
    "ScriptedReply",
    "TokenBudget",
]
