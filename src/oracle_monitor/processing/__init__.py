"""The span path's processors: what is done to every decoded batch before it is exported.

`conventions` and `dialects` say how the attribute dialects agents and LLM libraries emit
become a span's derived GenAI fields (agent, provider, model, token counts…); `pricing` holds
the providers' price table, which fills in what an LLM call cost (the LLM proxy prices its
spans with it too).
"""
