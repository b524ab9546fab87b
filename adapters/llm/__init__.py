"""LLM provider clients (llm-routing §11): the executor's call port over each provider's real wire format."""
