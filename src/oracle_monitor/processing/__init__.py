"""The span path's processors: what is done to every decoded batch before it is exported.

Each changes a whole batch in place (`oracle_monitor.pipeline.components.Processor`), in this
order in the chains that end in the store:

* ``genai_fields`` (`genai_fields`): each span's derived fields (agent, provider, model, token
  counts, pod, task…), read by `conventions` from the attribute dialects agents and LLM
  libraries emit, with the per-framework rules of `dialects`;
* ``pricing`` (`pricing`): what an LLM call cost, from the providers' price table (the LLM
  proxy prices its own spans with it too).
"""
