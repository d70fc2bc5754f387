"""The baseline: a bare FastAPI app with one async JSON endpoint and nothing else."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello"}
