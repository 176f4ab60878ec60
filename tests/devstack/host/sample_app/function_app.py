"""A small Durable Functions app in the style of the official Python v2 samples (a df.Blueprint registered
on a df.DFApp). The devstack host tests run it end to end."""

import azure.durable_functions as df
import azure.functions as func
from sample_durable_patterns import bp

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)


@app.route(route="echo/{name}/{rest?}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """Reflects what the host passed in: method, route and query parameters, headers, body."""
    import json

    body = req.get_body().decode("utf-8") if req.get_body() else ""
    return func.HttpResponse(
        json.dumps(
            {
                "method": req.method,
                "url": req.url,
                "route_params": dict(req.route_params),
                "params": dict(req.params),
                "principal": req.headers.get("x-ms-client-principal"),
                "custom_header": req.headers.get("x-custom"),
                "body": body,
                "function_name": context.function_name,
            }
        ),
        status_code=200,
        mimetype="application/json",
        headers={"x-echo": "yes"},
    )


@app.route(route="keys/admin-only", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin ok")


@app.route(route="keys/function-level", methods=["GET"])
def function_level(req: func.HttpRequest) -> str:
    return "function ok"


@app.route(route="settings/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def read_setting(req: func.HttpRequest) -> func.HttpResponse:
    """App settings arrive as environment variables (only SAMPLE_* ones are shown)."""
    import os

    name = req.route_params["name"]
    if not name.startswith("SAMPLE_") or name not in os.environ:
        return func.HttpResponse(status_code=404)
    return func.HttpResponse(os.environ[name])


@app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("the handler failed")
