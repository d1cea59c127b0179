"""The FastAPI side of the end-to-end benchmark: the usual setup of an API-key header check plus
fastapi-limiter 0.1.6 on Redis, with the same routes as tollgate-demo.

    GET /health   unlimited, no key
    GET /items    key in X-API-Key with scope items:read; cost 1; two limits (per second, per day)
    GET /reports  key in X-API-Key with scope reports:read; cost 5 (five hits on each limit)

Limits are per API key. Both limits are far too large to be reached, as on the Tollgate side.
Settings come from the environment: BENCH_REDIS_URL, BENCH_API_KEY.
Run: uvicorn fastapi_app:app --host 127.0.0.1 --port N --workers W
"""
import os

import redis.asyncio as redis
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi_limiter import FastAPILimiter
from fastapi_limiter.depends import RateLimiter

REDIS_URL = os.environ["BENCH_REDIS_URL"]
API_KEYS = {os.environ["BENCH_API_KEY"]: {"items:read", "reports:read"}}
PER_SECOND = 1_000_000_000
PER_DAY = 1_000_000_000_000

app = FastAPI()


def require_scope(scope: str):
    async def check(x_api_key: str | None = Header(default=None)) -> str:
        scopes = API_KEYS.get(x_api_key or "")
        if scopes is None:
            raise HTTPException(status_code=401, detail="invalid API key")
        if scope not in scopes:
            raise HTTPException(status_code=403, detail="missing scope")
        return x_api_key

    return check


async def key_identifier(request: Request) -> str:
    # Limit per API key (the default identifier limits per client IP and path).
    return request.headers.get("x-api-key", "") + ":" + request.scope["path"]


@app.on_event("startup")
async def startup() -> None:
    connection = redis.from_url(REDIS_URL, encoding="utf-8", decode_responses=True)
    await FastAPILimiter.init(connection, identifier=key_identifier)


@app.on_event("shutdown")
async def shutdown() -> None:
    await FastAPILimiter.close()


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.get(
    "/items",
    dependencies=[
        Depends(require_scope("items:read")),
        Depends(RateLimiter(times=PER_SECOND, seconds=1)),
        Depends(RateLimiter(times=PER_DAY, hours=24)),
    ],
)
async def items() -> dict:
    return {"items": [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]}


# fastapi-limiter counts hits, not costs: a request that costs 5 of a limit of N is one hit of a
# limit of N/5 (the same admissions), one EVALSHA per limit as for /items.
@app.get(
    "/reports",
    dependencies=[Depends(require_scope("reports:read"))]
    + [Depends(RateLimiter(times=PER_SECOND // 5, seconds=1)), Depends(RateLimiter(times=PER_DAY // 5, hours=24))],
)
async def reports() -> dict:
    return {"reports": []}
