"""llm: renders the chat template and answers with a toy model (an echo)."""

import jinja2
import regex
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from voice.common import health_route

TEMPLATE = jinja2.Environment(autoescape=False).from_string(
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>"
)
TOKEN = regex.compile(r"\p{L}+|\p{N}+|[^\s\p{L}\p{N}]")


async def generate(request: Request) -> JSONResponse:
    messages = (await request.json()).get("messages", [])
    prompt = TEMPLATE.render(messages=messages)
    last = messages[-1]["content"] if messages else ""
    return JSONResponse({"prompt_tokens": len(TOKEN.findall(prompt)), "reply": f"You said: {last}"})


app = Starlette(routes=[health_route("llm"), Route("/generate", generate, methods=["POST"])])
