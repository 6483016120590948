"""The API's response models: what ``/api/openapi.json`` says each JSON route answers.

The models document the answers; the routes still build their bodies as plain dicts and send
them pre-serialised (FastAPI does not validate a `Response` a route returns), so describing
an answer costs nothing per request. Every model refuses keys it does not declare
(``additionalProperties: false``), so the OpenAPI lists every key a body carries, and
``tests/unit/api/test_openapi_contract.py`` checks real answers against it. The snapshot and
its parts are described once, by ``oracle_state.schema.json`` (`state`).
"""
